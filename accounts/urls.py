from django.urls import path

import common.converters  # noqa: F401  (registers <id:…>)
from accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<id:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("account/access-keys/", views.access_keys, name="access-keys"),
    path(
        "account/access-keys/<id:pk>/revoke/",
        views.access_key_revoke,
        name="access-key-revoke",
    ),
]
