from django.urls import path

import common.converters  # noqa: F401  (registers <id:…>)
from approvals import views

app_name = "approvals"

urlpatterns = [
    path(
        "models/<str:group>/versions/<id:number>/review/",
        views.review,
        name="review",
    ),
    path(
        "models/<str:group>/versions/<id:number>/resubmit/",
        views.resubmit,
        name="resubmit",
    ),
]
