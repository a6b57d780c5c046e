"""Server-rendered pages (the web UI), included at the site root."""

from django.urls import include, path

urlpatterns = [
    path("", include("pages.urls")),
    path("", include("approvals.urls")),
    path("", include("deployments.urls")),
    path("", include("accounts.urls")),
    path("", include("webhooks.urls")),
]
