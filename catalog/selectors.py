"""Reads behind the catalog pages: filtered, annotated querysets of bounded size.

Every list is paginated or capped, and each page costs the same few queries whatever
the size of the catalog: per-row facts come from correlated subqueries (evaluated
for the rows of one page only) or from one batched query for the page's ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import QueryDict

from catalog.filters import EventFilterSet, GroupFilterSet, VersionFilterSet
from catalog.models import Alias, ApprovalStatus, Event, ModelGroup, ModelVersion
from registry_site.errors import NotFound

GROUP_SORTS = {
    "name": ("Name (A to Z)", ("name",)),
    "-name": ("Name (Z to A)", ("-name",)),
    "-updated_at": ("Recently updated", ("-updated_at", "name")),
    "-created_at": ("Newest", ("-created_at", "name")),
    "created_at": ("Oldest", ("created_at", "name")),
}
VERSION_SORTS = {
    "-version": "Newest version",
    "version": "Oldest version",
}
# Big per-version documents that no list shows.
LIST_DEFERRED = (
    "model_card",
    "sample_payload",
    "input_schema",
    "output_schema",
    "customer_metadata",
    "hyperparameters",
    "lineage",
)
CHART_VERSIONS = 200
COMPARE_MAX = 8
EVENT_PAGE = 50


def _subset(params: QueryDict, *names: str) -> QueryDict:
    """Only the named parameters: the FilterSets must not see page or sort keys."""
    data = QueryDict(mutable=True)
    for name in names:
        values = [v for v in params.getlist(name) if v.strip()]
        if values:
            data.setlist(name, values)
    return data


# --- Groups ---------------------------------------------------------------------------


def group_list(params: QueryDict) -> QuerySet[ModelGroup]:
    """Groups matching ``q`` and ``tag=key:value``, sorted by ``sort``; raises Invalid
    on a malformed tag. Paginate this, then fetch the page with ``group_rows``."""
    groups = GroupFilterSet(
        _subset(params, "q", "tag"), queryset=ModelGroup.objects.all()
    ).qs
    _, order = GROUP_SORTS.get(params.get("sort", ""), GROUP_SORTS["name"])
    return groups.order_by(*order, "id")


def group_rows(ids: list[int]) -> list[ModelGroup]:
    """The groups with ``ids``, in that order, with their latest version (number and
    status), how many versions they hold and how many await review.

    A separate query from the paging one: PostgreSQL computes a select list's
    subqueries for every row an OFFSET skips, so they stay off the deep-page scan.
    """
    versions = ModelVersion.objects.filter(group=OuterRef("pk"))
    latest = versions.order_by("-version")
    pending = (
        versions.filter(approval_status=ApprovalStatus.PENDING)
        .order_by()
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    counted = versions.order_by().values("group").annotate(n=Count("pk")).values("n")
    rows = ModelGroup.objects.filter(pk__in=ids).annotate(
        latest_version=Subquery(latest.values("version")[:1]),
        latest_status=Subquery(latest.values("approval_status")[:1]),
        pending_count=Coalesce(Subquery(pending, output_field=IntegerField()), 0),
        version_count=Coalesce(Subquery(counted, output_field=IntegerField()), 0),
    )
    by_id = {group.pk: group for group in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


def group_get(name: str) -> ModelGroup:
    group = ModelGroup.objects.select_related("created_by").filter(name=name).first()
    if group is None:
        raise NotFound(f"Model group {name!r} does not exist.")
    return group


# --- Versions -------------------------------------------------------------------------


def _aliases() -> Prefetch:
    return Prefetch(
        "aliases", queryset=Alias.objects.only("id", "name", "version_id", "group_id")
    )


def version_filter(group: ModelGroup, params: QueryDict) -> VersionFilterSet:
    """The group's versions filtered by status, metric thresholds and tags, newest first."""
    data = _subset(params, "approval_status", "metric", "tag")
    sort = params.get("sort", "")
    if sort in VERSION_SORTS or sort.lstrip("-").startswith("metric:"):
        data["ordering"] = sort
    versions = (
        ModelVersion.objects.filter(group=group)
        .select_related("group", "created_by")
        .defer(*LIST_DEFERRED)
        .prefetch_related(_aliases())
        .order_by("-version")
    )
    return VersionFilterSet(data, queryset=versions)


def version_get(group: ModelGroup, number: int) -> ModelVersion:
    version = (
        ModelVersion.objects.filter(group=group, version=number)
        .select_related("group", "created_by")
        .prefetch_related(_aliases())
        .first()
    )
    if version is None:
        raise NotFound(f"Version {number} of {group.name!r} does not exist.")
    return version


def metric_series(group: ModelGroup, limit: int = CHART_VERSIONS) -> dict[str, Any]:
    """Metrics of the group's latest ``limit`` versions, oldest first, for a chart."""
    rows = list(
        ModelVersion.objects.filter(group=group)
        .order_by("-version")
        .values_list("version", "metrics")[:limit]
    )[::-1]
    names = sorted({name for _, metrics in rows for name in metrics})
    return {
        "versions": [number for number, _ in rows],
        "metrics": {n: [metrics.get(n) for _, metrics in rows] for n in names},
    }


def key_metrics(versions: list[ModelVersion], first: list[str], limit: int = 4) -> list:
    """The metric columns of a version table: ``first`` (e.g. gated metrics), then the
    names most versions on the page report."""
    seen: dict[str, int] = {}
    for version in versions:
        for name in version.metrics:
            seen[name] = seen.get(name, 0) + 1
    ranked = sorted(seen, key=lambda n: (-seen[n], n))
    names = [n for n in first if n in seen] + [n for n in ranked if n not in first]
    return names[:limit]


def versions_for_compare(group: ModelGroup, numbers: list[int]) -> list[ModelVersion]:
    """The requested versions in the order asked; unknown numbers are a 404."""
    found = {
        v.version: v
        for v in ModelVersion.objects.filter(group=group, version__in=numbers)
        .select_related("group", "created_by")
        .prefetch_related(_aliases())
    }
    missing = [n for n in numbers if n not in found]
    if missing:
        raise NotFound(
            f"Version {missing[0]} of {group.name!r} does not exist.",
        )
    return [found[n] for n in numbers]


@dataclass
class CompareRow:
    label: str
    values: list[str]
    numbers: list[float | None] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


@dataclass
class CompareSection:
    title: str
    rows: list[CompareRow]

    def shown(self, differences_only: bool) -> list[CompareRow]:
        return [r for r in self.rows if r.differs or not differences_only]


MISSING = "—"


def _show(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _keyed(title: str, documents: list[dict[str, Any]]) -> CompareSection:
    keys = sorted({key for doc in documents for key in (doc or {})})
    return CompareSection(
        title,
        [
            CompareRow(key, [_show((doc or {}).get(key)) for doc in documents])
            for key in keys
        ],
    )


def comparison(versions: list[ModelVersion]) -> list[CompareSection]:
    """The versions side by side, one row per fact, grouped in sections."""

    def row(label: str, values: list[Any]) -> CompareRow:
        return CompareRow(label, [_show(v) for v in values])

    summary = CompareSection(
        "Summary",
        [
            row("Status", [v.get_approval_status_display() for v in versions]),
            row("Registered by", [v.created_by.username for v in versions]),
            row(
                "Registered",
                [v.created_at.strftime("%Y-%m-%d %H:%M") for v in versions],
            ),
            row("Format", [v.artifact_format for v in versions]),
            row("Size (bytes)", [str(v.artifact_size) for v in versions]),
            row("SHA-256", [v.artifact_sha256 for v in versions]),
            row(
                "Aliases",
                [", ".join(sorted(a.name for a in v.aliases.all())) for v in versions],
            ),
            row("Description", [v.description for v in versions]),
        ],
    )
    metrics = _keyed("Metrics", [v.metrics for v in versions])
    for metric_row in metrics.rows:
        metric_row.numbers = [v.metrics.get(metric_row.label) for v in versions]
    return [
        summary,
        metrics,
        _keyed("Hyperparameters", [v.hyperparameters for v in versions]),
        _keyed("Tags", [v.tags for v in versions]),
        _keyed("Lineage", [v.lineage for v in versions]),
        _keyed("Customer metadata", [v.customer_metadata for v in versions]),
    ]


# --- Events ---------------------------------------------------------------------------


def event_page(params: QueryDict) -> tuple[EventFilterSet, list[Event], int | None]:
    """One page of the event log, newest first, keyed by id (no COUNT over the log).

    Returns the filter set (for its form), the rows, and the id to continue before.
    """
    filterset = EventFilterSet(
        _subset(params, "kind", "group", "actor", "since", "until"),
        queryset=Event.objects.all(),
    )
    events = filterset.qs.order_by("-id")
    before = params.get("before", "")
    if before.isdigit():
        events = events.filter(id__lt=int(before))
    rows = list(events[: EVENT_PAGE + 1])
    more = rows[EVENT_PAGE - 1].pk if len(rows) > EVENT_PAGE else None
    return filterset, rows[:EVENT_PAGE], more


def version_edits(version: ModelVersion) -> list[Event]:
    """The metadata changes of a version, oldest first (for its timeline)."""
    return list(
        Event.objects.filter(version_id=version.pk, kind="version.updated").order_by(
            "id"
        )
    )
