"""The reconciler: the periodic sweep that makes every deployment reach an end."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from common import leases
from deployments.models import Deployment
from deployments.services import transitions
from deployments.services.transitions import S


def reconcile() -> dict[str, int]:
    """Ring again for deployments no worker took, and for expired leases (or fail
    them once out of attempts); time out webhook deployments whose callback never
    came."""
    counts = {"requeued": 0, "timed_out": 0}
    now = timezone.now()
    for deployment in Deployment.objects.filter(
        status=S.RUNNING, callback_deadline__lte=now
    ).select_related("endpoint__group", "version"):
        message = (
            "no status callback from the webhook target within "
            f"{deployment.endpoint.webhook_timeout} s"
        )
        counts["timed_out"] += transitions.fail(deployment, message)
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
        transitions.enqueue(deployment)
        counts["requeued"] += 1
    return counts


def _fail_lost(deployment: Deployment) -> None:
    """Out of attempts and its lease ran out: the worker died every time."""
    transitions.fail(
        deployment,
        f"the worker was lost {deployment.attempts} times",
        guard=Q(attempts=deployment.attempts)
        & leases.free("lease_expires_at", timezone.now()),
        stop_revoked=False,
    )
