from catalog.api import views
from registry_site.routers import OptionalSlashRouter

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
