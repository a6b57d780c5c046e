"""Reads behind the endpoint pages, and the "where is it live" facts other pages show."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import ApprovalStatus
from common.errors import NotFound
from deployments.models import ACTIVE_STATES, Deployment, Endpoint, WorkerHeartbeat

HISTORY = 30


def endpoints_by_group(group_ids: Iterable[int]) -> dict[int, list[Endpoint]]:
    """Each group's endpoints with their live version, in one query."""
    found: dict[int, list[Endpoint]] = defaultdict(list)
    rows = (
        Endpoint.objects.filter(group_id__in=list(group_ids))
        .select_related("live_version")
        .only(
            "id",
            "name",
            "group_id",
            "target",
            "auto_deploy",
            "live_version__id",
            "live_version__version",
        )
        .order_by("name")
    )
    for endpoint in rows:
        found[endpoint.group_id].append(endpoint)
    return found


def live_endpoints_by_version(version_ids: Iterable[int]) -> dict[int, list[str]]:
    """The endpoints now serving each of the versions, in one query."""
    found: dict[int, list[str]] = defaultdict(list)
    rows = (
        Endpoint.objects.filter(live_version_id__in=list(version_ids))
        .order_by("name")
        .values_list("live_version_id", "name")
    )
    for version_id, name in rows:
        found[version_id].append(name)
    return found


def endpoint_list() -> QuerySet[Endpoint]:
    """Every endpoint with its group, live version, and whether a deployment runs."""
    deployments = Deployment.objects.filter(endpoint=OuterRef("pk"))
    return (
        Endpoint.objects.select_related("group", "live_version")
        .annotate(
            deploying=Exists(deployments.filter(status__in=ACTIVE_STATES)),
            last_status=Subquery(deployments.order_by("-id").values("status")[:1]),
            deployment_count=Coalesce(
                Subquery(
                    deployments.order_by()
                    .values("endpoint")
                    .annotate(n=Count("pk"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                0,
            ),
        )
        .order_by("name")
    )


def endpoint_get(name: str) -> Endpoint:
    endpoint = (
        Endpoint.objects.select_related("group", "live_version", "created_by")
        .filter(name=name)
        .first()
    )
    if endpoint is None:
        raise NotFound(f"Endpoint {name!r} does not exist.")
    return endpoint


@dataclass
class Panel:
    """What the live part of an endpoint page shows, and a token that changes with it."""

    endpoint: Endpoint
    deployments: list[Deployment]
    more: bool
    active: bool
    state: str


def endpoint_panel(endpoint: Endpoint) -> Panel:
    """The endpoint's live version and its latest deployments (newest first)."""
    rows = list(
        Deployment.objects.filter(endpoint=endpoint)
        .select_related("version", "previous_version", "requested_by")
        .prefetch_related("log_lines")
        .order_by("-id")[: HISTORY + 1]
    )
    more, rows = len(rows) > HISTORY, rows[:HISTORY]
    fingerprint = repr(
        (
            endpoint.live_version_id,
            endpoint.serving_message,
            [(d.pk, d.status, len(d.log)) for d in rows],
        )
    )
    return Panel(
        endpoint=endpoint,
        deployments=rows,
        more=more,
        active=any(d.status in ACTIVE_STATES for d in rows),
        state=hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
    )


def deployments_of_version(version_id: int, limit: int = 20) -> list[Deployment]:
    return list(
        Deployment.objects.filter(version_id=version_id)
        .select_related("endpoint", "requested_by")
        .order_by("-id")[:limit]
    )


def approved_numbers(endpoint: Endpoint, limit: int = 50) -> list[int]:
    """Version numbers a deployer may deploy to the endpoint, newest first."""
    return list(
        endpoint.group.versions.filter(approval_status=ApprovalStatus.APPROVED)
        .order_by("-version")
        .values_list("version", flat=True)[:limit]
    )


@dataclass(frozen=True)
class Heartbeat:
    beat_at: datetime | None
    age: float | None  # seconds
    hostname: str

    def fresh(self, within: float) -> bool:
        return self.age is not None and self.age <= within


def heartbeat_get(lane: str = "deployments") -> Heartbeat:
    row = WorkerHeartbeat.objects.filter(lane=lane).first()
    if row is None:
        return Heartbeat(None, None, "")
    age = max(0.0, (timezone.now() - row.beat_at).total_seconds())
    return Heartbeat(row.beat_at, age, row.hostname)
