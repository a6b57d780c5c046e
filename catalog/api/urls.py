from rest_framework.routers import SimpleRouter

from catalog.api import views


class OptionalSlashRouter(SimpleRouter):
    """The trailing slash is optional, so both `/artifact` and `/artifact/` work."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("model-groups", views.ModelGroupViewSet, basename="group")
router.register(
    r"model-groups/(?P<group_name>[^/]+)/versions",
    views.ModelVersionViewSet,
    basename="version",
)
router.register(
    r"model-groups/(?P<group_name>[^/]+)/aliases", views.AliasViewSet, basename="alias"
)
router.register("events", views.EventViewSet, basename="event")

urlpatterns = router.urls
