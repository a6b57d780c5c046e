"""Reads behind the endpoint pages, and the "where is it live" facts other pages show."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import ApprovalStatus, ModelVersion
from common.errors import NotFound
from deployments.models import (
    ACTIVE_STATES,
    Deployment,
    DeploymentStatus,
    Endpoint,
    WorkerHeartbeat,
)

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

    @property
    def shown(self) -> list[Deployment]:
        """The deployments that did or do something (superseded ones fold away)."""
        return [d for d in self.deployments if d.status != DeploymentStatus.SUPERSEDED]

    @property
    def superseded(self) -> list[Deployment]:
        return [d for d in self.deployments if d.status == DeploymentStatus.SUPERSEDED]

    @property
    def running(self) -> Deployment | None:
        """The deployment running now (one at a time per endpoint), if any."""
        return next(
            (d for d in self.deployments if d.status == DeploymentStatus.RUNNING), None
        )


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


def deployable(endpoint: Endpoint, number: int | None) -> bool:
    """Whether version ``number`` of the endpoint's group is Approved (deployable)."""
    return (
        number is not None
        and endpoint.group.versions.filter(
            version=number, approval_status=ApprovalStatus.APPROVED
        ).exists()
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


# --- What a production-changing action will do (shown before it is confirmed) -------


@dataclass(frozen=True)
class Switch:
    """What one endpoint will serve after an action: ``target`` None stops it."""

    endpoint: str
    current: int | None
    target: int | None
    cancels_queued: bool = False

    @property
    def verb(self) -> str:
        """ "Roll back to v1", "Switch to v3", "Redeploy v3", "Deploy v3", "Stop"."""
        if self.target is None:
            return "Stop serving"
        if self.current is None:
            return f"Deploy v{self.target}"
        if self.target == self.current:
            return f"Redeploy v{self.target}"
        if self.target < self.current:
            return f"Roll back to v{self.target}"
        return f"Switch to v{self.target}"

    @property
    def will(self) -> str:
        """The consequence, before: "iris-prod will roll back from v3 to v1"."""
        name = self.endpoint
        if self.cancels_queued:
            return f"The queued deployment to {name} will be cancelled"
        if self.target is None:
            return f"{name} will stop serving (it serves v{self.current} now)"
        if self.current is None:
            return f"{name} will start serving v{self.target}"
        if self.target == self.current:
            return f"{name} will load v{self.target} again"
        move = "roll back" if self.target < self.current else "switch"
        return f"{name} will {move} from v{self.current} to v{self.target}"

    @property
    def will_list(self) -> list[str]:
        return [self.will]

    @property
    def done(self) -> str:
        """The outcome, after: "iris-prod is rolling back to v1"."""
        name = self.endpoint
        if self.cancels_queued:
            return f"the queued deployment to {name} is cancelled"
        if self.target is None:
            return f"{name} stops serving"
        if self.current is None:
            return f"{name} is deploying v{self.target}"
        if self.target == self.current:
            return f"{name} is loading v{self.target} again"
        move = "rolling back" if self.target < self.current else "switching"
        return f"{name} is {move} to v{self.target}"


def revocation_fallbacks(version: ModelVersion, endpoint_ids: list[int]) -> dict:
    """For each endpoint, the version number it falls back to if ``version`` is
    revoked: the newest earlier Approved version that served there (absent: none).
    One query; ``deployments.services.on_version_rejected`` applies the same rule."""
    rows = (
        Deployment.objects.filter(
            endpoint_id__in=endpoint_ids,
            status=DeploymentStatus.SUCCEEDED,
            version__approval_status=ApprovalStatus.APPROVED,
            version__version__lt=version.version,
        )
        .exclude(version_id=version.pk)
        .order_by()
        .values("endpoint_id")
        .annotate(number=Max("version__version"))
    )
    return {row["endpoint_id"]: row["number"] for row in rows}


def revocation_plan(version: ModelVersion) -> list[Switch]:
    """What revoking ``version`` does to each endpoint: those serving it roll back
    or stop; queued deployments of it are cancelled. Three queries at most."""
    serving = list(
        Endpoint.objects.filter(live_version_id=version.pk)
        .order_by("name")
        .values_list("pk", "name")
    )
    fallbacks = revocation_fallbacks(version, [pk for pk, _ in serving])
    plan = [
        Switch(endpoint=name, current=version.version, target=fallbacks.get(pk))
        for pk, name in serving
    ]
    queued = (
        Deployment.objects.filter(version_id=version.pk, status=DeploymentStatus.QUEUED)
        .exclude(endpoint__live_version_id=version.pk)
        .order_by("endpoint__name")
        .values_list("endpoint__name", flat=True)
        .distinct()
    )
    plan += [
        Switch(endpoint=name, current=None, target=None, cancels_queued=True)
        for name in queued
    ]
    return plan


def deploy_switch(endpoint: Endpoint, target: int | None) -> Switch:
    """What deploying version ``target`` does to ``endpoint`` (no query)."""
    live = endpoint.live_version.version if endpoint.live_version else None
    return Switch(endpoint=endpoint.name, current=live, target=target)


@dataclass(frozen=True)
class Stint:
    """One time a version served on an endpoint: from, until (None: still), whom it
    replaced there and who replaced it."""

    endpoint: str
    since: Any
    until: Any
    replaced: int | None
    replaced_by: int | None


def service_history(version: ModelVersion) -> list[Stint]:
    """Where ``version`` served and when, oldest first (one query)."""
    rows = list(
        Deployment.objects.filter(
            Q(version_id=version.pk) | Q(previous_version_id=version.pk),
            status=DeploymentStatus.SUCCEEDED,
        )
        .select_related("endpoint", "version", "previous_version")
        .only(
            "endpoint__name",
            "version__version",
            "previous_version__version",
            "finished_at",
        )
        .order_by("finished_at", "id")
    )
    stints = []
    for index, deployment in enumerate(rows):
        if deployment.version_id != version.pk:
            continue
        after = next(
            (
                later
                for later in rows[index + 1 :]
                if later.endpoint_id == deployment.endpoint_id
                and later.version_id != version.pk
            ),
            None,
        )
        previous = deployment.previous_version
        stints.append(
            Stint(
                endpoint=deployment.endpoint.name,
                since=deployment.finished_at,
                until=after.finished_at if after else None,
                replaced=previous.version if previous else None,
                replaced_by=after.version.version if after else None,
            )
        )
    return stints
