"""Endpoints and deployments: requesting, running, switching, rolling back.

A deployment's row is the truth. ``deployment_run`` claims it with a compare-and-set
(Queued → Running, with a lease), so a duplicate delivery exits quietly and a dead
worker's deployment is taken over once its lease expires. The endpoint's live
version changes only after the new model loaded and answered its warm-up.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.roles import Role, has_role, require_role
from catalog.models import ApprovalStatus, ModelGroup, ModelVersion
from catalog.services import event_record
from deployments import backends
from deployments.models import (
    ACTIVE_STATES,
    Deployment,
    DeploymentStatus,
    Endpoint,
    Reason,
    Target,
)
from registry_site import doorbell, outbound
from registry_site.errors import Conflict, Forbidden, Invalid

log = logging.getLogger(__name__)
S = DeploymentStatus
DEPLOY_ROLES = (Role.DEPLOYER,)
ENDPOINT_FIELDS = (
    "auto_deploy",
    "target",
    "webhook_url",
    "webhook_secret",
    "webhook_timeout",
)


# --- Endpoints -------------------------------------------------------------------


def _check_target(endpoint: Endpoint) -> None:
    if endpoint.target not in Target.values:
        raise Invalid(
            "target: Use builtin or webhook.",
            fields={"target": "Use builtin or webhook."},
        )
    if endpoint.target == Target.WEBHOOK:
        if not endpoint.webhook_url:
            message = "Required for the webhook target."
            raise Invalid(f"webhook_url: {message}", fields={"webhook_url": message})
        if len(endpoint.webhook_secret) < 16:
            message = "Required for the webhook target: at least 16 characters."
            raise Invalid(
                f"webhook_secret: {message}", fields={"webhook_secret": message}
            )
        outbound.validate_url(endpoint.webhook_url, "webhook_url")
    if not 10 <= endpoint.webhook_timeout <= 86400:
        message = "Between 10 and 86400 seconds."
        raise Invalid(
            f"webhook_timeout: {message}", fields={"webhook_timeout": message}
        )


@transaction.atomic
def endpoint_create(
    *,
    actor: Any,
    name: str,
    group: ModelGroup,
    auto_deploy: bool = True,
    target: str = Target.BUILTIN,
    webhook_url: str = "",
    webhook_secret: str = "",
    webhook_timeout: int = 600,
) -> Endpoint:
    """Create an endpoint serving ``group`` (deployers and admins)."""
    require_role(actor, *DEPLOY_ROLES, action="create endpoints")
    endpoint = Endpoint(
        name=name,
        group=group,
        auto_deploy=auto_deploy,
        target=target,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        webhook_timeout=webhook_timeout,
        created_by=actor,
    )
    _check_target(endpoint)
    endpoint.full_clean(exclude=["created_by", "group"], validate_unique=False)
    taken = Conflict(
        f"An endpoint named {name!r} already exists.",
        fields={"name": "An endpoint with this name already exists."},
    )
    if Endpoint.objects.filter(name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError as exc:  # a concurrent create of the same name won
        raise taken from exc
    event_record(
        "endpoint.created",
        actor=actor,
        group=group,
        payload={"endpoint": name, "target": target, "auto_deploy": auto_deploy},
    )
    return endpoint


def _check_retarget(actor: Any, endpoint: Endpoint, fields: Any) -> None:
    """Only the owner or an admin points an endpoint's webhook elsewhere or sets its
    secret; a new URL needs a new secret, so no one inherits the old one."""
    moved = "webhook_url" in fields and fields["webhook_url"] != endpoint.webhook_url
    if not (moved or "webhook_secret" in fields):
        return
    if actor.pk != endpoint.created_by_id and not has_role(actor, Role.ADMIN):
        raise Forbidden(
            "Only the endpoint's owner or an admin may change its webhook URL or secret."
        )
    if moved and "webhook_secret" not in fields:
        message = "Set the secret again when the URL changes."
        raise Invalid(f"webhook_secret: {message}", fields={"webhook_secret": message})


@transaction.atomic
def endpoint_update(*, actor: Any, endpoint: Endpoint, **fields: Any) -> Endpoint:
    """Change an endpoint; its webhook URL and secret only by its owner or an admin."""
    require_role(actor, *DEPLOY_ROLES, action="change endpoints")
    unknown = sorted(set(fields) - set(ENDPOINT_FIELDS))
    if unknown:
        raise Invalid(
            f"{unknown[0]}: Cannot be changed.",
            fields={unknown[0]: "Cannot be changed."},
        )
    _check_retarget(actor, endpoint, fields)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    _check_target(endpoint)
    endpoint.save()
    event_record(
        "endpoint.updated",
        actor=actor,
        group=endpoint.group,
        payload={
            "endpoint": endpoint.name,
            "fields": sorted(k for k in fields if k != "webhook_secret"),
        },
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: Any, endpoint: Endpoint) -> None:
    require_role(actor, *DEPLOY_ROLES, action="delete endpoints")
    event_record(
        "endpoint.deleted",
        actor=actor,
        group=endpoint.group,
        payload={"endpoint": endpoint.name},
    )
    endpoint.delete()


# --- Requesting deployments -----------------------------------------------------------


def _enqueue(deployment: Deployment, countdown: float | None = None) -> None:
    from deployments.tasks import deploy_task

    doorbell.ring_after_commit(deploy_task, deployment.pk, countdown=countdown)


def _request(
    endpoint: Endpoint,
    version: ModelVersion,
    reason: str,
    actor: Any,
    event_id: int | None = None,
) -> Deployment:
    """Queue a deployment, superseding older queued ones of the same endpoint."""
    superseded = Deployment.objects.filter(endpoint=endpoint, status=S.QUEUED).update(
        status=S.SUPERSEDED,
        finished_at=timezone.now(),
        error="Superseded by a newer deployment before it started.",
    )
    deployment = Deployment.objects.create(
        endpoint=endpoint,
        version=version,
        reason=reason,
        event_id=event_id,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        log=[_line(f"queued: deploy v{version.version} ({reason})")]
        + (
            [_line(f"superseded {superseded} queued deployment(s)")]
            if superseded
            else []
        ),
    )
    event_record(
        "deployment.queued",
        actor=actor,
        group=endpoint.group,
        version=version,
        payload={
            "endpoint": endpoint.name,
            "deployment": deployment.pk,
            "reason": reason,
        },
    )
    _enqueue(deployment)
    return deployment


def deployment_request(
    *, actor: Any, endpoint: Endpoint, version_number: Any, reason: str = Reason.MANUAL
) -> Deployment:
    """Deploy an Approved version of the endpoint's group by hand."""
    require_role(actor, *DEPLOY_ROLES, action="deploy versions")
    if isinstance(version_number, bool) or not isinstance(version_number, int):
        raise Invalid(
            "version: Must be a version number.",
            fields={"version": "Must be a version number."},
        )
    with transaction.atomic():
        Endpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        version = ModelVersion.objects.filter(
            group_id=endpoint.group_id, version=version_number
        ).first()
        if version is None:
            message = (
                f"Version {version_number} does not exist in {endpoint.group.name}."
            )
            raise Invalid(f"version: {message}", fields={"version": message})
        if version.approval_status != ApprovalStatus.APPROVED:
            raise Conflict(
                f"Version {version.version} is {version.approval_status}; only "
                "Approved versions can be deployed."
            )
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


def deployment_rollback(*, actor: Any, endpoint: Endpoint) -> Deployment:
    """Deploy the previous version that served successfully."""
    require_role(actor, *DEPLOY_ROLES, action="roll back endpoints")
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
    endpoints = Endpoint.objects.filter(group_id=version.group_id, auto_deploy=True)
    return [
        _request(endpoint, version, Reason.APPROVAL, None, event_id=event_id)
        for endpoint in endpoints.select_for_update()
    ]


def on_version_rejected(event_id: int, version: ModelVersion) -> None:
    """Cancel what would deploy it; roll endpoints that serve it back, or stop them."""
    Deployment.objects.filter(version=version, status=S.QUEUED).update(
        status=S.CANCELLED,
        finished_at=timezone.now(),
        error=f"v{version.version} was rejected before it deployed.",
    )
    for endpoint in Endpoint.objects.select_for_update().filter(live_version=version):
        fallback = (
            Deployment.objects.filter(
                endpoint=endpoint,
                status=S.SUCCEEDED,
                version__approval_status=ApprovalStatus.APPROVED,
                version__version__lt=version.version,
            )
            .select_related("version")
            .order_by("-version__version")
            .first()
        )
        if fallback is not None:
            _request(
                endpoint, fallback.version, Reason.REVOCATION, None, event_id=event_id
            )
        else:
            _stop_serving(
                endpoint,
                f"v{version.version} was revoked and no earlier "
                "Approved version has served here.",
            )


def _stop_serving(endpoint: Endpoint, message: str) -> None:
    Endpoint.objects.filter(pk=endpoint.pk).update(
        live_version=None, live_since=None, serving_message=message
    )
    event_record(
        "endpoint.stopped",
        actor=None,
        group=endpoint.group,
        payload={"endpoint": endpoint.name, "message": message},
    )


# --- Running a deployment ----------------------------------------------------------------


def _line(text: str) -> str:
    return f"{timezone.now().isoformat(timespec='milliseconds')} {text}"


class _Log:
    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.lines = list(deployment.log)

    def __call__(self, text: str) -> None:
        self.lines.append(_line(text))
        Deployment.objects.filter(pk=self.deployment.pk).update(log=self.lines)


def _claim(deployment_id: int) -> Deployment | None:
    """Queued (or Running with an expired lease) → Running for this worker, or None."""
    now = timezone.now()
    row = (
        Deployment.objects.filter(pk=deployment_id)
        .values("endpoint_id", "status")
        .first()
    )
    if row is None or row["status"] not in ACTIVE_STATES:
        return None
    with transaction.atomic():
        Endpoint.objects.select_for_update().filter(pk=row["endpoint_id"]).first()
        busy = (
            Deployment.objects.filter(
                endpoint_id=row["endpoint_id"],
                status=S.RUNNING,
                lease_expires_at__gt=now,
            )
            .exclude(pk=deployment_id)
            .exists()
        )
        if busy:
            return None
        claimed = (
            Deployment.objects.filter(pk=deployment_id, callback_deadline__isnull=True)
            .filter(Q(status=S.QUEUED) | Q(status=S.RUNNING, lease_expires_at__lte=now))
            .update(
                status=S.RUNNING,
                attempts=F("attempts") + 1,
                lease_expires_at=now
                + timedelta(seconds=settings.REGISTRY_DEPLOY_LEASE),
                started_at=Coalesce(F("started_at"), now),
            )
        )
    if not claimed:
        return None
    return Deployment.objects.select_related("endpoint__group", "version__group").get(
        pk=deployment_id
    )


def deployment_run(deployment_id: int) -> str:
    """Run one deployment to a terminal state (or a retry); returns what happened."""
    deployment = _claim(deployment_id)
    if deployment is None:
        return "skipped"
    log_line = _Log(deployment)
    log_line(f"attempt {deployment.attempts}: started")
    try:
        version = ModelVersion.objects.get(pk=deployment.version_id)
        if version.approval_status != ApprovalStatus.APPROVED:
            raise backends.PermanentError(
                f"v{version.version} is {version.approval_status}, no longer Approved"
            )
        if deployment.endpoint.target == Target.WEBHOOK:
            return _send_webhook(deployment, version, log_line)
        backends.builtin_check(version, log_line)
        return _switch(deployment, log_line)
    except backends.TransientError as exc:
        return _retry_or_fail(deployment, str(exc), log_line)
    except backends.PermanentError as exc:
        return _fail(deployment, str(exc), log_line)
    except Exception as exc:  # unexpected: record it, retry within the attempt budget
        log.exception("deployment %s failed unexpectedly", deployment_id)
        return _retry_or_fail(deployment, f"{type(exc).__name__}: {exc}", log_line)


def _still_mine(deployment: Deployment) -> Deployment | None:
    current = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if current.status != S.RUNNING or current.attempts != deployment.attempts:
        return None  # the lease expired and another worker took over
    return current


def _switch(deployment: Deployment, log_line: _Log) -> str:
    """Point the endpoint at the new version and end Succeeded, in one transaction."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=deployment.endpoint_id)
        current = _still_mine(deployment)
        if current is None:
            return "lost-lease"
        version = ModelVersion.objects.get(pk=deployment.version_id)
        if version.approval_status != ApprovalStatus.APPROVED:
            raise backends.PermanentError(
                f"v{version.version} was {version.approval_status} while deploying"
            )
        previous = endpoint.live_version_id
        now = timezone.now()
        Endpoint.objects.filter(pk=endpoint.pk).update(
            live_version=version, live_since=now, serving_message=""
        )
        log_line.lines.append(
            _line(f"endpoint {endpoint.name} now serves v{version.version}")
        )
        Deployment.objects.filter(pk=deployment.pk).update(
            status=S.SUCCEEDED,
            finished_at=now,
            lease_expires_at=None,
            error="",
            previous_version_id=previous,
            log=log_line.lines,
        )
        event_record(
            "deployment.succeeded",
            actor=None,
            group=endpoint.group,
            version=version,
            payload={
                "endpoint": endpoint.name,
                "deployment": deployment.pk,
                "previous_version": _number(previous),
            },
        )
    return "succeeded"


def _number(version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return (
        ModelVersion.objects.filter(pk=version_id)
        .values_list("version", flat=True)
        .first()
    )


def _record_failure(deployment: Deployment, message: str, lines: list[str]) -> None:
    """End ``deployment`` Failed with ``message`` and its event (inside a transaction)."""
    lines.append(_line(f"failed: {message}"))
    Deployment.objects.filter(pk=deployment.pk).update(
        status=S.FAILED,
        finished_at=timezone.now(),
        lease_expires_at=None,
        error=message[:4000],
        log=lines,
    )
    event_record(
        "deployment.failed",
        actor=None,
        group=deployment.endpoint.group,
        version=deployment.version,
        payload={
            "endpoint": deployment.endpoint.name,
            "deployment": deployment.pk,
            "error": message[:500],
        },
    )


def _fail(deployment: Deployment, message: str, log_line: _Log) -> str:
    with transaction.atomic():
        current = _still_mine(deployment)
        if current is None:
            return "lost-lease"
        _record_failure(deployment, message, log_line.lines)
        if deployment.reason == Reason.REVOCATION:
            endpoint = Endpoint.objects.select_for_update().get(
                pk=deployment.endpoint_id
            )
            live = endpoint.live_version
            if live is not None and live.approval_status == ApprovalStatus.REJECTED:
                _stop_serving(
                    endpoint,
                    f"v{live.version} was revoked and rolling back to "
                    f"v{deployment.version.version} failed: {message[:200]}",
                )
    return "failed"


def _retry_or_fail(deployment: Deployment, message: str, log_line: _Log) -> str:
    if deployment.attempts >= Deployment.MAX_ATTEMPTS:
        return _fail(
            deployment, f"{message} (after {deployment.attempts} attempts)", log_line
        )
    with transaction.atomic():
        if _still_mine(deployment) is None:
            return "lost-lease"
        log_line.lines.append(_line(f"transient error, will retry: {message}"))
        Deployment.objects.filter(pk=deployment.pk).update(
            status=S.QUEUED,
            lease_expires_at=None,
            error=message[:4000],
            log=log_line.lines,
        )
        _enqueue(deployment, countdown=2**deployment.attempts)
    return "retry"


# --- Webhook target -------------------------------------------------------------------------


def webhook_payload(deployment: Deployment, version: ModelVersion) -> dict[str, Any]:
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
        "metrics": version.metrics,
        "hyperparameters": version.hyperparameters,
        "tags": version.tags,
        "lineage": version.lineage,
        "customer_metadata": version.customer_metadata,
    }


def _send_webhook(deployment: Deployment, version: ModelVersion, log_line: _Log) -> str:
    endpoint = deployment.endpoint
    response = backends.webhook_send(
        endpoint.webhook_url,
        endpoint.webhook_secret,
        webhook_payload(deployment, version),
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
        raise Invalid(
            "status: Use Succeeded or Failed.",
            fields={"status": "Use Succeeded or Failed."},
        )
    if deployment.status in (S.SUCCEEDED, S.FAILED) and deployment.status == status:
        return deployment  # a repeated callback changes nothing
    if deployment.status != S.RUNNING or deployment.callback_deadline is None:
        raise Conflict(
            f"Deployment {deployment.pk} is {deployment.status}; it is not "
            "waiting for a status callback."
        )
    log_line = _Log(deployment)
    log_line(f"status callback: {status} {message[:500]}".strip())
    if status == S.SUCCEEDED:
        try:
            _switch(deployment, log_line)
        except backends.PermanentError as exc:
            _fail(deployment, str(exc), log_line)
    else:
        _fail(
            deployment,
            f"the external system reported failure: {message[:2000]}",
            log_line,
        )
    deployment.refresh_from_db()
    return deployment


# --- The reconciler ---------------------------------------------------------------------------


def reconcile() -> dict[str, int]:
    """Re-enqueue deployments no worker took, take over expired leases, time out
    webhook deployments whose callback never came."""
    from deployments.tasks import deploy_task

    now = timezone.now()
    counts = {"requeued": 0, "timed_out": 0}
    for deployment in Deployment.objects.filter(
        status=S.RUNNING, callback_deadline__lte=now
    ).select_related("endpoint__group", "version"):
        deployment.lease_expires_at = None
        if (
            _fail(
                deployment,
                "no status callback from the webhook target within "
                f"{deployment.endpoint.webhook_timeout} s",
                _Log(deployment),
            )
            == "failed"
        ):
            counts["timed_out"] += 1
    stale = Deployment.objects.filter(
        Q(
            status=S.QUEUED,
            created_at__lte=now
            - timedelta(seconds=settings.REGISTRY_DEPLOY_STALE_QUEUED),
        )
        | Q(status=S.RUNNING, lease_expires_at__lte=now, callback_deadline__isnull=True)
    ).select_related("endpoint__group", "version")
    for deployment in stale:
        if (
            deployment.status == S.RUNNING
            and deployment.attempts >= Deployment.MAX_ATTEMPTS
        ):
            _fail_lost(deployment)
            continue
        deploy_task.delay(deployment.pk)
        counts["requeued"] += 1
    return counts


def _fail_lost(deployment: Deployment) -> None:
    with transaction.atomic():
        current = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if (
            current.status != S.RUNNING
            or (current.lease_expires_at or timezone.now()) > timezone.now()
        ):
            return
        _record_failure(
            deployment, f"the worker was lost {current.attempts} times", current.log
        )
