from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("reviews/", views.inbox, name="inbox"),
    path(
        "models/<str:group>/versions/<int:number>/review/",
        views.review,
        name="review",
    ),
    path(
        "models/<str:group>/versions/<int:number>/resubmit/",
        views.resubmit,
        name="resubmit",
    ),
]
