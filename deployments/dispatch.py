"""Outbox handler: approval events become deployments (see catalog.outbox)."""

from __future__ import annotations

from catalog.models import Event, ModelVersion
from deployments import services

KINDS = frozenset({"version.approved", "version.rejected"})


def on_event(event: Event) -> None:
    version = (
        ModelVersion.objects.select_related("group")
        .filter(pk=event.version_id or 0)
        .first()
    )
    if version is None:
        return
    if event.kind == "version.approved":
        services.on_version_approved(event.pk, version)
    elif event.kind == "version.rejected":
        services.on_version_rejected(event.pk, version)
