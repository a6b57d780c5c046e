from django.urls import re_path

from common.routers import OptionalSlashRouter
from deployments.api import views

router = OptionalSlashRouter()
router.register("endpoints", views.EndpointViewSet, basename="endpoint")
router.register("deployments", views.DeploymentViewSet, basename="deployment")

urlpatterns = [
    re_path(
        r"^endpoints/(?P<name>[^/]+)/invocations/?$",
        views.InvocationView.as_view(),
        name="endpoint-invocations",
    ),
    re_path(
        r"^deployments/(?P<pk>[0-9]+)/status/?$",
        views.DeploymentStatusView.as_view(),
        name="deployment-status",
    ),
    re_path(
        r"^ray-artifacts/(?P<token>[A-Za-z0-9_:.-]+)/?$",
        views.RayArtifactView.as_view(),
        name="ray-artifact",
    ),
    *router.urls,
]
