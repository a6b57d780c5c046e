from django.urls import re_path

from catalog.api import tags, views
from common.routers import ID_REGEX, OptionalSlashRouter

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
router.register(
    r"model-groups/(?P<group_name>[^/]+)/evaluation-sets",
    views.EvaluationSetViewSet,
    basename="evaluation-set",
)
router.register(
    r"model-groups/(?P<group_name>[^/]+)/trusted-keys",
    views.TrustedKeyViewSet,
    basename="trusted-key",
)
router.register("events", views.EventViewSet, basename="event")

# A tag key may hold a "/", so it runs to the end of the path (no optional slash).
GROUP = r"^model-groups/(?P<group_name>[^/]+)"
urlpatterns = [
    *router.urls,
    re_path(rf"{GROUP}/tags/(?P<key>.+)$", tags.GroupTagView.as_view()),
    re_path(
        r"^signing-keys/?$", views.SigningKeyListView.as_view(), name="signing-keys"
    ),
    re_path(r"^revocations/?$", views.RevocationListView.as_view(), name="revocations"),
    re_path(
        rf"{GROUP}/versions/(?P<version>{ID_REGEX})/tags/(?P<key>.+)$",
        tags.VersionTagView.as_view(),
    ),
]
