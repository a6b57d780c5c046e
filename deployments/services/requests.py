"""Requesting deployments: by hand, as a roll-back, or from approval events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from accounts.roles import Actor, require_role
from catalog.models import ApprovalStatus, ModelVersion
from common.errors import Conflict, Invalid
from deployments.models import Deployment, Endpoint, Reason
from deployments.selectors import revocation_fallbacks
from deployments.services import transitions
from deployments.services.endpoints import DEPLOY_ROLES, endpoint_stop
from deployments.services.transitions import S

ARTIFACT_ABSENT = (
    "Version {version.version} was recorded without its files (source "
    "{version.source_uri!r} is kept as text only); it cannot be deployed. "
    "Register a version with the model file to deploy it."
)


def _request(
    endpoint: Endpoint,
    version: ModelVersion,
    reason: str,
    actor: User | None,
    event_id: int | None = None,
) -> Deployment:
    """Queue a deployment, superseding older queued ones of the same endpoint."""
    superseded = transitions.supersede_queued(endpoint, actor=actor)
    deployment = Deployment.objects.create(
        endpoint=endpoint,
        version=version,
        reason=reason,
        event_id=event_id,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    transitions.queued(deployment, actor=actor)
    if superseded:
        transitions.log_append(
            deployment, f"superseded {superseded} queued deployment(s)"
        )
    transitions.enqueue(deployment)
    return deployment


def deployment_request(
    *,
    actor: Actor,
    endpoint: Endpoint,
    version_number: Any,
    reason: str = Reason.MANUAL,
) -> Deployment:
    """Deploy an Approved version of the endpoint's group by hand."""
    actor = require_role(actor, *DEPLOY_ROLES, action="deploy versions")
    if isinstance(version_number, bool) or not isinstance(version_number, int):
        raise Invalid.on("version", "Must be a version number.")
    with transaction.atomic():
        Endpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        version = ModelVersion.objects.filter(
            group_id=endpoint.group_id, version=version_number
        ).first()
        if version is None:
            message = (
                f"Version {version_number} does not exist in {endpoint.group.name}."
            )
            raise Invalid.on("version", message)
        if version.approval_status != ApprovalStatus.APPROVED:
            raise Conflict(
                f"Version {version.version} is {version.approval_status}; only "
                "Approved versions can be deployed."
            )
        if version.artifact_absent:
            raise Conflict(ARTIFACT_ABSENT.format(version=version))
        return _request(endpoint, version, reason, actor)


def rollback_target(endpoint: Endpoint) -> ModelVersion | None:
    """The version that served before the live one and is still Approved."""
    served = (
        Deployment.objects.filter(
            endpoint=endpoint,
            status=S.SUCCEEDED,
            version__approval_status=ApprovalStatus.APPROVED,
        )
        .exclude(version_id=endpoint.live_version_id)
        .select_related("version")
        .order_by("-finished_at", "-id")
    )
    first = served.first()
    return first.version if first else None


def deployment_rollback(*, actor: Actor, endpoint: Endpoint) -> Deployment:
    """Deploy the previous version that served successfully."""
    actor = require_role(actor, *DEPLOY_ROLES, action="roll back endpoints")
    with transaction.atomic():
        Endpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        endpoint.refresh_from_db()
        target = rollback_target(endpoint)
        if target is None:
            raise Conflict(
                f"{endpoint.name} has no earlier Approved version that served."
            )
        return _request(endpoint, target, Reason.ROLLBACK, actor)


# --- Reacting to approval events (called by deployments.dispatch) -----------------------


def on_version_approved(event_id: int, version: ModelVersion) -> list[Deployment]:
    """Queue a deployment on every endpoint that auto-deploys the version's group."""
    if version.artifact_absent:
        return []  # nothing to load; deployment_request says why when asked by hand
    endpoints = Endpoint.objects.filter(group_id=version.group_id, auto_deploy=True)
    return [
        _request(endpoint, version, Reason.APPROVAL, None, event_id=event_id)
        for endpoint in endpoints.select_for_update()
    ]


def on_version_rejected(event_id: int, version: ModelVersion) -> None:
    """Cancel what would deploy it; roll endpoints that serve it back, or stop them."""
    transitions.cancel_queued(
        version, error=f"v{version.version} was rejected before it deployed."
    )
    serving = list(Endpoint.objects.select_for_update().filter(live_version=version))
    fallbacks = revocation_fallbacks(version, [endpoint.pk for endpoint in serving])
    earlier = {
        v.version: v
        for v in ModelVersion.objects.filter(
            group_id=version.group_id, version__in=set(fallbacks.values())
        )
    }
    for endpoint in serving:
        fallback = earlier.get(fallbacks.get(endpoint.pk, 0))
        if fallback is not None:
            _request(endpoint, fallback, Reason.REVOCATION, None, event_id=event_id)
        else:
            endpoint_stop(
                endpoint=endpoint,
                message=f"v{version.version} was revoked and no earlier "
                "Approved version has served here.",
            )
