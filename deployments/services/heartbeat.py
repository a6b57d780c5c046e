"""The worker's heartbeat: proof that a worker takes work from the deployments queue."""

from __future__ import annotations

import os
import socket

from django.utils import timezone

from deployments.models import WorkerHeartbeat

LANE = "deployments"


def heartbeat_record(lane: str = LANE) -> None:
    """Record that a worker of ``lane`` is alive now (one upsert)."""
    WorkerHeartbeat.objects.update_or_create(
        lane=lane,
        defaults={
            "beat_at": timezone.now(),
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
        },
    )
