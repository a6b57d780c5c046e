"""The webhook target: ship a deployment to an external system, take its status callback."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from catalog import attestations
from catalog.models import ModelVersion
from common.errors import Conflict, Invalid
from deployments import backends
from deployments.models import Deployment
from deployments.services import transitions
from deployments.services.transitions import S


def webhook_payload(deployment: Deployment, version: ModelVersion) -> dict[str, Any]:
    """What the external system receives: the deployment, the version, its artifact."""
    base = settings.REGISTRY_PUBLIC_URL
    group = version.group.name
    return {
        "type": "deployment.requested",
        "deployment": {
            "id": deployment.pk,
            "reason": deployment.reason,
            "status_url": f"{base}/api/v1/deployments/{deployment.pk}/status",
        },
        "endpoint": deployment.endpoint.name,
        "model_group": group,
        "version": version.version,
        "artifact": {
            "url": f"{base}/api/v1/model-groups/{group}/versions/"
            f"{version.version}/artifact",
            "sha256": version.artifact_sha256,
            "size": version.artifact_size,
            "format": version.artifact_format,
        },
        # The signed approval (verified before sending) for the external system
        # to verify too, against GET /api/v1/signing-keys/.
        "attestation": _attestation(version),
        "metrics": version.metrics,
        "hyperparameters": version.hyperparameters,
        "tags": version.tags,
        "lineage": version.lineage,
        "customer_metadata": version.customer_metadata,
    }


def _attestation(version: ModelVersion) -> dict[str, Any] | None:
    approval = attestations.last_approval(version)
    return None if approval is None else approval.envelope


def send_webhook(
    deployment: Deployment, payload: dict[str, Any], log_line: Callable[[str], None]
) -> str:
    """POST the deployment (``webhook_payload``'s); it stays Running, its lease the
    callback's deadline."""
    endpoint = deployment.endpoint
    response = backends.webhook_send(
        endpoint.webhook_url,
        endpoint.webhook_secret,
        payload,
        delivery_id=str(uuid.uuid4()),
    )
    log_line(
        f"webhook answered {response.status} in {response.duration_ms:.0f} ms; "
        f"waiting up to {endpoint.webhook_timeout} s for the status callback"
    )
    deadline = timezone.now() + timedelta(seconds=endpoint.webhook_timeout)
    Deployment.objects.filter(pk=deployment.pk, status=S.RUNNING).update(
        callback_deadline=deadline, lease_expires_at=deadline
    )
    return "waiting"


def deployment_report(
    *, deployment: Deployment, status: str, message: str = ""
) -> Deployment:
    """The external system's status callback for a webhook deployment."""
    if status not in {S.SUCCEEDED, S.FAILED}:
        raise Invalid.on("status", "Use Succeeded or Failed.")
    if deployment.status in (S.SUCCEEDED, S.FAILED) and deployment.status == status:
        return deployment  # a repeated callback changes nothing
    if deployment.status != S.RUNNING or deployment.callback_deadline is None:
        raise Conflict(
            f"Deployment {deployment.pk} is {deployment.status}; it is not "
            "waiting for a status callback."
        )
    transitions.log_append(
        deployment, f"status callback: {status} {message[:500]}".strip()
    )
    if status == S.SUCCEEDED:
        try:
            transitions.succeed(deployment)
        except backends.PermanentError as exc:
            transitions.fail(deployment, str(exc))
    else:
        transitions.fail(
            deployment, f"the external system reported failure: {message[:2000]}"
        )
    deployment.refresh_from_db()
    return deployment
