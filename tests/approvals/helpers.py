"""Small helpers shared by the approvals tests."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from approvals import notifications, services
from approvals.models import Notification
from catalog import outbox
from catalog.models import Event, ModelVersion

PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
INBOX = "/api/v1/reviews/inbox/"


def version_url(version: ModelVersion, suffix: str = "") -> str:
    versions = f"/api/v1/model-groups/{version.group.name}/versions"
    return f"{versions}/{version.version}/{suffix}"


def policy_url(group_name: str = "iris") -> str:
    return f"/api/v1/model-groups/{group_name}/approval-policy"


def post_review(
    client: APIClient, version: ModelVersion, decision: str, comment: str = ""
) -> Any:
    return client.post(
        version_url(version, "reviews/"),
        {"decision": decision, "comment": comment},
        format="json",
    )


def approve(actor: Any, version: ModelVersion, comment: str = "") -> Any:
    return services.review_submit(
        actor=actor, version=version, decision="approve", comment=comment
    )


def reject(actor: Any, version: ModelVersion, comment: str = "Not good enough") -> Any:
    return services.review_submit(
        actor=actor, version=version, decision="reject", comment=comment
    )


def resubmit(actor: Any, version: ModelVersion, comment: str = "Retrained") -> Any:
    return services.version_resubmit(actor=actor, version=version, comment=comment)


def status_of(version: ModelVersion) -> str:
    version.refresh_from_db()
    return version.approval_status


def events(kind: str, version: ModelVersion | None = None) -> list[Event]:
    found = Event.objects.filter(kind=kind)
    if version is not None:
        found = found.filter(version=version)
    return list(found.order_by("id"))


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def deliver(kind: str, version: ModelVersion) -> Notification:
    """Do what the worker does after commit: dispatch the event, then send its mail."""
    (event,) = events(kind, version)
    outbox.dispatch(event.pk)
    notification = Notification.objects.get(event_id=event.pk)
    notifications.send(notification.pk)
    notification.refresh_from_db()
    return notification
