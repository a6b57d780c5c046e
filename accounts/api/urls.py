from accounts.api import views
from common.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("access-keys", views.AccessKeyViewSet, basename="access-key")
router.register(
    "service-accounts", views.ServiceAccountViewSet, basename="service-account"
)

urlpatterns = router.urls
