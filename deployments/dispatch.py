"""Outbox handler: approval events become deployments, and a version that becomes
Ready is checked ahead of its approval (see catalog.outbox)."""

from __future__ import annotations

from catalog.models import REVIEW_DECISION_KINDS, Event, EventKind, ModelVersion
from deployments import services
from deployments.services import prechecks

# A version becomes Ready when registered (or when its deferred check passed).
READY_KINDS = frozenset({EventKind.VERSION_REGISTERED, EventKind.VERSION_CHECKED})
KINDS = REVIEW_DECISION_KINDS | READY_KINDS


def on_event(event: Event) -> None:
    version = (
        ModelVersion.objects.select_related("group")
        .filter(pk=event.version_id or 0)
        .first()
    )
    if version is None:
        return
    if event.kind == EventKind.VERSION_APPROVED:
        services.on_version_approved(event.pk, version)
    elif event.kind == EventKind.VERSION_REJECTED:
        services.on_version_rejected(event.pk, version)
    elif event.kind in READY_KINDS:
        prechecks.on_version_ready(version)
