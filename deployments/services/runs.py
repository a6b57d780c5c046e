"""Running a deployment: claim it, check and load the model, then switch or fail.

A deployment's row is the truth. ``deployment_run`` claims it with a compare-and-set
(Queued → Running, with a lease), so a duplicate delivery exits quietly. The lease is
short and renewed while the run goes on, so a dead worker's deployment is taken over
within one lease. The endpoint's live
version changes only after the new model loaded and answered its warm-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog import attestations
from catalog.models import ApprovalStatus, ModelVersion
from common import leases
from deployments import backends
from deployments.models import ACTIVE_STATES, Deployment, Endpoint
from deployments.services import targets, transitions
from deployments.services.transitions import S

log = logging.getLogger(__name__)


def _claim(deployment_id: int) -> Deployment | None:
    """Queued (or Running with an expired lease) → Running for this worker, or None."""
    row = (
        Deployment.objects.select_related("endpoint__group", "version")
        .filter(pk=deployment_id)
        .first()
    )
    if row is None or row.status not in ACTIVE_STATES:
        return None
    with transaction.atomic():
        Endpoint.objects.select_for_update().filter(pk=row.endpoint_id).first()
        busy = (
            Deployment.objects.filter(
                endpoint_id=row.endpoint_id,
                status=S.RUNNING,
                lease_expires_at__gt=timezone.now(),
            )
            .exclude(pk=deployment_id)
            .exists()
        )
        if busy or not transitions.claim(row):
            return None
    return Deployment.objects.select_related("endpoint__group", "version__group").get(
        pk=deployment_id
    )


def deployment_run(deployment_id: int) -> str:
    """Run one deployment to a terminal state (or a retry); returns what happened."""
    deployment = _claim(deployment_id)
    if deployment is None:
        return "skipped"
    with leases.renewed(
        _still_mine(deployment),
        lease_field="lease_expires_at",
        lease=timedelta(seconds=settings.REGISTRY_DEPLOY_LEASE),
    ):
        return _run(deployment)


def _still_mine(deployment: Deployment) -> QuerySet[Deployment]:
    """The row while this worker's attempt runs it (and no webhook call is pending)."""
    return Deployment.objects.filter(
        pk=deployment.pk,
        status=S.RUNNING,
        attempts=deployment.attempts,
        callback_deadline__isnull=True,
    )


def _run(deployment: Deployment) -> str:
    log_line = _logger(deployment)
    try:
        version = ModelVersion.objects.get(pk=deployment.version_id)
        if version.approval_status != ApprovalStatus.APPROVED:
            raise backends.PermanentError(
                f"v{version.version} is {version.approval_status}, no longer Approved"
            )
        _verify_attestation(version, log_line)
        target = targets.of(deployment.endpoint)
        return target.apply(
            deployment, version, target.plan(deployment, version), log_line
        )
    except backends.TransientError as exc:
        return _retry_or_fail(deployment, str(exc))
    except backends.PermanentError as exc:
        return _outcome(transitions.fail(deployment, str(exc)), "failed")
    except Exception as exc:  # unexpected: record it, retry within the attempt budget
        log.exception("deployment %s failed unexpectedly", deployment.pk)
        return _retry_or_fail(deployment, f"{type(exc).__name__}: {exc}")


def _verify_attestation(version: ModelVersion, log_line: Callable[[str], None]) -> None:
    """Refuse a version without a valid, unrevoked signed approval of its bytes."""
    try:
        verified = attestations.attestation_verify(version)
    except attestations.AttestationInvalid as exc:
        raise backends.PermanentError(str(exc)) from exc
    log_line(
        f"attestation verified: approved by {', '.join(verified.approvers)}, "
        f"signed by key {verified.keyid[:12]}…"
    )


def _logger(deployment: Deployment) -> Callable[[str], None]:
    return lambda text: transitions.log_append(deployment, text)


def _outcome(changed: bool, outcome: str) -> str:
    """What happened, or ``lost-lease`` when another worker had taken over."""
    return outcome if changed else "lost-lease"


def _retry_or_fail(deployment: Deployment, message: str) -> str:
    if deployment.attempts >= Deployment.MAX_ATTEMPTS:
        message = f"{message} (after {deployment.attempts} attempts)"
        return _outcome(transitions.fail(deployment, message), "failed")
    return _outcome(transitions.retry(deployment, message), "retry")
