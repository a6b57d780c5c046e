from django.urls import path

import common.converters  # noqa: F401  (registers <id:…>)
from accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<id:pk>/revoke/", views.token_revoke, name="token-revoke"),
]
