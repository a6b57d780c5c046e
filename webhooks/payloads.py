"""The bodies that webhooks send: the registry's own, or SageMaker's
"Model Package State Change" event for consumers built for it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from catalog.models import Event, ModelVersion

SAGEMAKER_KINDS = frozenset(
    {
        "version.registered",
        "version.updated",
        "version.approved",
        "version.rejected",
        "version.resubmitted",
    }
)


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
    delivery_id: str, event: Event, version: ModelVersion
) -> dict[str, Any]:
    region = settings.REGISTRY_SAGEMAKER_REGION
    account = settings.REGISTRY_SAGEMAKER_ACCOUNT
    group = version.group.name
    arn = (
        f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version.version}"
    )
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version.version,
        "ModelPackageArn": arn,
        "ModelPackageName": f"{group}/{version.version}",
        "ModelPackageDescription": version.description,
        "CreationTime": int(version.created_at.timestamp() * 1000),
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": version.approval_status,
        "ApprovalDescription": (event.payload or {}).get("comment", ""),
        "CustomerMetadataProperties": version.customer_metadata,
        "CreatedBy": {"UserProfileName": version.created_by.username},
        "LastModifiedTime": int(event.created_at.timestamp() * 1000),
        "LastModifiedBy": {"UserProfileName": event.actor_name},
    }
    return {
        "version": "0",
        "id": delivery_id,
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": account,
        "time": event.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
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
