from django.urls import path

import common.converters  # noqa: F401  (registers <id:…>)
from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.webhook_list, name="list"),
    path("webhooks/<id:pk>/", views.webhook_detail, name="detail"),
    path("webhooks/<id:pk>/test/", views.webhook_test, name="test"),
    path(
        "webhooks/<id:pk>/deliveries/<id:delivery>/redeliver/",
        views.webhook_redeliver,
        name="redeliver",
    ),
]
