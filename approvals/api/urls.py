from django.urls import re_path

from approvals.api import views

VERSION = r"^model-groups/(?P<group_name>[^/]+)/versions/(?P<version>[0-9]+)"

urlpatterns = [
    re_path(
        VERSION + r"/reviews/?$", views.ReviewListCreate.as_view(), name="review-list"
    ),
    re_path(
        VERSION + r"/resubmit/?$", views.Resubmit.as_view(), name="version-resubmit"
    ),
    re_path(VERSION + r"/verdict/?$", views.Verdict.as_view(), name="version-verdict"),
    re_path(
        r"^model-groups/(?P<group_name>[^/]+)/approval-policy/?$",
        views.PolicyDetail.as_view(),
        name="approval-policy",
    ),
    re_path(
        r"^model-groups/(?P<group_name>[^/]+)/metric-directions/?$",
        views.MetricDirections.as_view(),
        name="metric-directions",
    ),
    re_path(
        r"^model-groups/(?P<group_name>[^/]+)/metric-directions/(?P<metric>[^/]+)/?$",
        views.MetricDirectionDetail.as_view(),
        name="metric-direction",
    ),
    re_path(r"^reviews/inbox/?$", views.Inbox.as_view(), name="review-inbox"),
]
