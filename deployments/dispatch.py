"""Outbox handler: approval events become deployments (see catalog.outbox)."""

from __future__ import annotations

from catalog.models import REVIEW_DECISION_KINDS, Event, EventKind, ModelVersion
from deployments import services

KINDS = REVIEW_DECISION_KINDS


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
