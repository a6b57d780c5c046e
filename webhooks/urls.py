from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.webhook_list, name="list"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="detail"),
    path("webhooks/<int:pk>/test/", views.webhook_test, name="test"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery>/redeliver/",
        views.webhook_redeliver,
        name="redeliver",
    ),
]
