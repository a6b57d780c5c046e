"""The bodies that webhooks send: the registry's own, or SageMaker's
"Model Package State Change" event for consumers built for it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from catalog.models import (
    STATUS_AFTER,
    VERSION_STATUS_KINDS,
    ApprovalStatus,
    Event,
    EventKind,
)
from common import sagemaker

P = ApprovalStatus.PENDING

# SageMaker's "Model Package State Change": a status change, or an edit of the
# version (which leaves it in the status the status event before it did).
SAGEMAKER_KINDS = VERSION_STATUS_KINDS | {EventKind.VERSION_UPDATED}


def status_after(event: Event, earlier: Event | None = None) -> str:
    """The version's approval status right after ``event``, from event data only:
    the ``to`` the event recorded, else what its kind implies, else the status after
    ``earlier`` (the version's last status event before this one)."""
    recorded = (event.payload or {}).get("to")
    if recorded in ApprovalStatus.values:
        return str(recorded)
    if event.kind in STATUS_AFTER:
        return STATUS_AFTER[event.kind]
    return status_after(earlier) if earlier is not None else P


def registry_payload(delivery_id: str, event: Event) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "type": event.kind,
        "created_at": event.created_at.isoformat(),
        "event": {
            "id": event.pk,
            "cursor": f"{event.txid}-{event.pk}",
            "kind": event.kind,
            "model_group": event.group_name or None,
            "version": event.version_number,
            "actor": event.actor_name or None,
            "payload": event.payload,
        },
    }


def sagemaker_payload(
    delivery_id: str,
    event: Event,
    *,
    status: str,
    registered: Event,
    details: dict[str, Any],
) -> dict[str, Any]:
    """SageMaker's event for ``event``, as things stood then: ``status`` after it,
    ``registered`` (the version's registration event) for creation time and author,
    ``details`` for the description and customer metadata where they are known."""
    group, number = event.group_name, event.version_number
    if number is None:
        raise ValueError(f"event {event.pk} ({event.kind}) names no version")
    arn = sagemaker.model_package_arn(group, number)
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": number,
        "ModelPackageArn": arn,
        "ModelPackageName": f"{group}/{number}",
        "CreationTime": int(registered.created_at.timestamp() * 1000),
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
        "ApprovalDescription": (event.payload or {}).get("comment", ""),
        "CreatedBy": {"UserProfileName": registered.actor_name},
        "LastModifiedTime": int(event.created_at.timestamp() * 1000),
        "LastModifiedBy": {"UserProfileName": event.actor_name},
    }
    if "description" in details:
        detail["ModelPackageDescription"] = details["description"]
    if "customer_metadata" in details:
        detail["CustomerMetadataProperties"] = details["customer_metadata"]
    return {
        "version": "0",
        "id": delivery_id,
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": settings.REGISTRY_SAGEMAKER_ACCOUNT,
        "time": event.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": settings.REGISTRY_SAGEMAKER_REGION,
        "resources": [arn],
        "detail": detail,
    }


def test_payload(delivery_id: str, subscription_id: int) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "type": "webhook.test",
        "event": {
            "kind": "webhook.test",
            "subscription": subscription_id,
            "message": "A test delivery from the model registry.",
        },
    }
