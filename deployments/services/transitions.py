"""The one place a deployment's status changes.

``transition`` moves a deployment out of the status it is expected to be in with one
conditional UPDATE (compare-and-set): when another worker, request or sweep got there
first, nothing is written and it returns False. Each change it makes appends a line
to the deployment's log and writes one event, in the same transaction. The functions
below it are the transitions the services use, each a call of ``transition``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.roles import Actor
from catalog.models import ApprovalStatus, EventKind, ModelVersion
from catalog.services import event_record
from common import changes, doorbell, leases
from deployments import backends
from deployments.models import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    Deployment,
    DeploymentLogLine,
    DeploymentStatus,
    Endpoint,
    Reason,
)
from deployments.services.endpoints import endpoint_stop

S = DeploymentStatus
# The event each status change writes.
KINDS: dict[str, EventKind] = {
    S.QUEUED: EventKind.DEPLOYMENT_QUEUED,
    S.RUNNING: EventKind.DEPLOYMENT_RUNNING,
    S.SUCCEEDED: EventKind.DEPLOYMENT_SUCCEEDED,
    S.FAILED: EventKind.DEPLOYMENT_FAILED,
    S.SUPERSEDED: EventKind.DEPLOYMENT_SUPERSEDED,
    S.CANCELLED: EventKind.DEPLOYMENT_CANCELLED,
}
# Running → Queued: a transient error, tried again.
RETRYING = EventKind.DEPLOYMENT_RETRYING
RETRY_BASE = 2.0  # seconds before the second attempt; doubled for each one after


def log_append(deployment: Deployment, text: str) -> None:
    """Add one line, stamped with the time, to the deployment's log."""
    now = timezone.now()
    DeploymentLogLine.objects.create(
        deployment_id=deployment.pk,
        text=f"{now.isoformat(timespec='milliseconds')} {text}",
        created_at=now,
    )


def enqueue(deployment: Deployment, countdown: float | None = None) -> None:
    """Ring the worker's doorbell for ``deployment`` once the transaction commits."""
    from deployments.tasks import deploy_task

    doorbell.ring_after_commit(deploy_task, deployment.pk, countdown=countdown)


def transition(
    deployment: Deployment,
    *,
    source: str | None,
    to: str,
    note: str,
    actor: Actor | None = None,
    guard: Q | None = None,
    payload: dict[str, Any] | None = None,
    **changes: Any,
) -> bool:
    """Move ``deployment`` from ``source`` to ``to`` (with ``changes``, where ``guard``
    holds), log ``note`` and record the event; False, writing nothing, if the row was
    not in that state. ``source`` None: the row was just created, as Queued."""
    with transaction.atomic():
        if source is not None:
            rows = Deployment.objects.filter(guard or Q(), pk=deployment.pk)
            if not _apply(rows.filter(status=source), to, changes):
                return False
        log_append(deployment, note)
        event_record(
            RETRYING if (source, to) == (S.RUNNING, S.QUEUED) else KINDS[to],
            actor=actor,
            group=deployment.endpoint.group,
            version=deployment.version,
            payload={
                "endpoint": deployment.endpoint.name,
                "deployment": deployment.pk,
                "from": source,
                "to": to,
                **(payload or {}),
            },
        )
    deployment.status = to
    return True


def _apply(rows: Any, to: str, changes: dict[str, Any]) -> int:
    """The UPDATE of one transition, with what every move into ``to`` also sets."""
    now = timezone.now()
    if to == S.RUNNING:  # a claim: count the attempt and take the lease
        return leases.claim(
            rows,
            lease_field="lease_expires_at",
            lease=timedelta(seconds=settings.REGISTRY_DEPLOY_LEASE),
            now=now,
            status=to,
            started_at=Coalesce(F("started_at"), now),
            **changes,
        )
    if to in TERMINAL_STATES:
        changes = {"finished_at": now, **changes}
    return rows.update(status=to, lease_expires_at=None, **changes)


# --- The transitions ----------------------------------------------------------------


def queued(deployment: Deployment, *, actor: Actor | None) -> None:
    """The event and first log line of a deployment row just created."""
    version = deployment.version
    transition(
        deployment,
        source=None,
        to=S.QUEUED,
        actor=actor,
        note=f"queued: deploy v{version.version} ({deployment.reason})",
        payload={"reason": deployment.reason},
    )


def supersede_queued(endpoint: Endpoint, *, actor: Actor | None) -> int:
    """Supersede the endpoint's queued deployments; returns how many were."""
    return _end_queued(
        Deployment.objects.filter(endpoint=endpoint, status=S.QUEUED),
        to=S.SUPERSEDED,
        actor=actor,
        error="Superseded by a newer deployment before it started.",
    )


def cancel_queued(version: ModelVersion, *, error: str) -> int:
    """Cancel the queued deployments of ``version``; returns how many were."""
    return _end_queued(
        Deployment.objects.filter(version=version, status=S.QUEUED),
        to=S.CANCELLED,
        actor=None,
        error=error,
    )


def _end_queued(rows: Any, *, to: str, actor: Actor | None, error: str) -> int:
    return sum(
        transition(
            deployment,
            source=S.QUEUED,
            to=to,
            actor=actor,
            note=error,
            error=error,
        )
        for deployment in rows.select_related("endpoint__group", "version")
    )


def claim(deployment: Deployment) -> bool:
    """Queued, or Running on a lease that ran out → Running on a lease for this worker."""
    if deployment.status not in ACTIVE_STATES:
        return False
    attempt = deployment.attempts + 1
    return transition(
        deployment,
        source=deployment.status,
        to=S.RUNNING,
        guard=Q(attempts=deployment.attempts, callback_deadline__isnull=True),
        note=f"attempt {attempt}: started",
        payload={"attempt": attempt},
    )


def _mine(deployment: Deployment) -> Q:
    """Still the attempt this worker claimed (no one took over an expired lease)."""
    return Q(attempts=deployment.attempts)


def succeed(deployment: Deployment) -> bool:
    """Point the endpoint at the new version and end Succeeded, in one transaction."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=deployment.endpoint_id)
        version = ModelVersion.objects.get(pk=deployment.version_id)
        if version.approval_status != ApprovalStatus.APPROVED:
            raise backends.PermanentError(
                f"v{version.version} was {version.approval_status} while deploying"
            )
        previous = endpoint.live_version_id
        now = timezone.now()
        if not transition(
            deployment,
            source=S.RUNNING,
            to=S.SUCCEEDED,
            guard=_mine(deployment),
            note=f"endpoint {endpoint.name} now serves v{version.version}",
            payload={"previous_version": _number(previous)},
            finished_at=now,
            error="",
            previous_version_id=previous,
        ):
            return False
        Endpoint.objects.filter(pk=endpoint.pk).update(
            live_version=version, live_since=now, serving_message=""
        )
        changes.announce()
    return True


def _number(version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return (
        ModelVersion.objects.filter(pk=version_id)
        .values_list("version", flat=True)
        .first()
    )


def fail(
    deployment: Deployment,
    message: str,
    *,
    guard: Q | None = None,
    stop_revoked: bool = True,
) -> bool:
    """End Failed; a failed roll-back from a revoked live version stops the endpoint
    (unless ``stop_revoked`` is False)."""
    with transaction.atomic():
        if not transition(
            deployment,
            source=S.RUNNING,
            to=S.FAILED,
            guard=guard or _mine(deployment),
            note=f"failed: {message}",
            payload={"error": message[:500]},
            error=message[:4000],
        ):
            return False
        if stop_revoked and deployment.reason == Reason.REVOCATION:
            _stop_revoked(deployment, message)
    return True


def _stop_revoked(deployment: Deployment, message: str) -> None:
    endpoint = Endpoint.objects.select_for_update().get(pk=deployment.endpoint_id)
    live = endpoint.live_version
    if live is not None and live.approval_status == ApprovalStatus.REJECTED:
        endpoint_stop(
            endpoint=endpoint,
            message=f"v{live.version} was revoked and rolling back to "
            f"v{deployment.version.version} failed: {message[:200]}",
        )


def retry(deployment: Deployment, message: str) -> bool:
    """Back to Queued after a transient error; the worker tries again after a backoff."""
    delay = leases.backoff(deployment.attempts, base=RETRY_BASE)
    with transaction.atomic():
        if not transition(
            deployment,
            source=S.RUNNING,
            to=S.QUEUED,
            guard=_mine(deployment),
            note=f"transient error, will retry: {message}",
            payload={"error": message[:500], "retry_in": delay},
            error=message[:4000],
        ):
            return False
        enqueue(deployment, countdown=delay)
    return True
