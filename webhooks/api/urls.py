from common.routers import OptionalSlashRouter
from webhooks.api import views

router = OptionalSlashRouter()
router.register("webhooks", views.SubscriptionViewSet, basename="webhook")

urlpatterns = router.urls
