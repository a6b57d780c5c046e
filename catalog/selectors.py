"""Reads of the catalog: the one read path of the API, the pages and any other face.

Selectors take typed keyword arguments (a face parses its own input first, e.g. with
``catalog.filters.arguments``) and filter with the FilterSets' own filters. Fetching
one group, version or alias, or answering 404, happens here and nowhere else.

Every list is paginated or capped, and each page costs the same few queries whatever
the size of the catalog: per-row facts come from correlated subqueries (evaluated
for the rows of one page only) or from one batched query for the page's ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import (
    Count,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.template.defaultfilters import filesizeformat
from django_filters import FilterSet

from catalog.filters import (
    Bound,
    EventFilterSet,
    GroupFilterSet,
    Tag,
    VersionFilterSet,
)
from catalog.models import (
    Alias,
    ApprovalStatus,
    Evaluation,
    EvaluationSet,
    EvaluationStatus,
    Event,
    EventKind,
    ModelGroup,
    ModelVersion,
    Stage,
    TrustedSigningKey,
)
from common.errors import Invalid, NotFound

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
    "signature_bundle",
)
CHART_VERSIONS = 200
COMPARE_MAX = 8
EVENT_PAGE = 50


GROUP_ORDERINGS = {"name", "created_at", "updated_at"}


def _filtered(
    filterset_class: type[FilterSet], queryset: QuerySet, **values: Any
) -> QuerySet:
    """``queryset`` through the FilterSet's own filters, given typed values (those
    that are None or empty filter nothing)."""
    filters = filterset_class(queryset=queryset).filters
    for name, value in values.items():
        if value is not None and value != "" and value != []:
            queryset = filters[name].filter(queryset, value)
    return queryset


# --- Groups ---------------------------------------------------------------------------


def group_list(
    *,
    q: str = "",
    tags: Iterable[Tag] = (),
    created_by: str | None = None,
    created_by_id: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    ordering: Sequence[str] = ("name",),
    name_contains: str = "",
) -> QuerySet[ModelGroup]:
    """Groups matching all the given filters, in ``ordering`` (field names from
    GROUP_ORDERINGS, ``-`` for descending). Paginate this; ``group_rows`` or
    ``with_version_stats`` then add the per-group facts for one page."""
    for key in ordering:
        if key.lstrip("-") not in GROUP_ORDERINGS:
            raise Invalid.on("ordering", f"Unknown ordering {key!r}.")
    groups = _filtered(
        GroupFilterSet,
        ModelGroup.objects.select_related("created_by"),
        q=q,
        tag=list(tags),
        created_by=created_by,
        created_by_id=created_by_id,
        created_after=created_after,
        created_before=created_before,
    )
    if name_contains:
        groups = groups.filter(name__icontains=name_contains)
    return groups.order_by(*ordering, "id")


def with_version_stats(groups: list[ModelGroup]) -> list[ModelGroup]:
    """Set ``version_count`` and ``latest_version`` on each group, in one query."""
    stats: dict[int, Any] = {
        row["group_id"]: row
        for row in ModelVersion.objects.filter(group__in=[g.pk for g in groups])
        .values("group_id")
        .annotate(count=Count("id"), latest=Max("version"))
        .order_by()
    }
    for group in groups:
        row = stats.get(group.pk, {})
        group.version_count = row.get("count", 0)  # type: ignore[attr-defined]
        group.latest_version = row.get("latest")  # type: ignore[attr-defined]
    return groups


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


def trusted_key_list(*, group: ModelGroup) -> Any:
    """The public keys whose model signatures ``group`` trusts, by name."""
    return TrustedSigningKey.objects.filter(group=group).select_related("added_by")


def trusted_key_get(*, group: ModelGroup, key_id: Any) -> TrustedSigningKey:
    try:
        return trusted_key_list(group=group).get(pk=int(key_id))
    except (TrustedSigningKey.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"Trusted key {key_id} does not exist in this group.") from None


# --- Versions -------------------------------------------------------------------------


def _aliases() -> Prefetch:
    return Prefetch(
        "aliases", queryset=Alias.objects.only("id", "name", "version_id", "group_id")
    )


def version_list(
    *,
    group: ModelGroup | None,
    approval_status: Iterable[str] = (),
    registration_status: Iterable[str] = (),
    tags: Iterable[Tag] = (),
    metrics: Iterable[Bound] = (),
    created_by: str | None = None,
    created_by_id: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    version_min: int | None = None,
    version_max: int | None = None,
    ordering: str = "",
    brief: bool = False,
    group_name_contains: str = "",
) -> QuerySet[ModelVersion]:
    """The group's versions matching all the given filters, newest first unless
    ``ordering`` (``[-]version``, ``[-]created_at`` or ``[-]metric:<name>``) says
    otherwise. ``brief`` leaves out the big documents that no list shows.
    ``group=None`` lists the versions of every group."""
    versions = (
        (ModelVersion.objects.filter(group=group) if group else ModelVersion.objects)
        .select_related("group", "created_by")
        .prefetch_related(_aliases())
        .order_by("-version")
    )
    if group_name_contains:
        versions = versions.filter(group__name__icontains=group_name_contains)
    if brief:
        versions = versions.defer(*LIST_DEFERRED)
    return _filtered(
        VersionFilterSet,
        versions,
        approval_status=list(approval_status),
        registration_status=list(registration_status),
        tag=list(tags),
        metric=list(metrics),
        created_by=created_by,
        created_by_id=created_by_id,
        created_after=created_after,
        created_before=created_before,
        version_min=version_min,
        version_max=version_max,
        ordering=ordering,
    )


def version_get(
    group: str,
    number: int,
    *,
    related: Sequence[str] = (),
    aliases: bool = True,
    annotations: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Version ``number`` of the group named ``group`` (one query, plus its aliases
    unless ``aliases`` is False), with ``related`` also selected and ``annotations``
    added; an unknown group or version is a NotFound."""
    versions = ModelVersion.objects.filter(
        group__name=group, version=number
    ).select_related("group", "created_by", *related)
    if aliases:
        versions = versions.prefetch_related(_aliases())
    if annotations:
        versions = versions.annotate(**annotations)
    version = versions.first()
    if version is None:
        group_get(group)  # an unknown group is named first
        raise NotFound(f"Version {number} of {group!r} does not exist.")
    return version


def version_created(version: ModelVersion) -> ModelVersion:
    """A version just registered, shaped as ``version_get`` answers it without
    reading it back: its group and creator are at hand, and no alias names it yet."""
    version._prefetched_objects_cache = {"aliases": []}  # type: ignore[attr-defined]
    return version


def folder_file(version: ModelVersion, path: str) -> dict[str, Any]:
    """The manifest entry of one file of a folder version, or ``NotFound``."""
    for entry in version.artifact_manifest:
        if entry["path"] == path:
            return dict(entry)
    raise NotFound(f"Version {version.version} has no file {path!r}.")


def versions_get_many(
    refs: Iterable[tuple[str, int]], *, related: Sequence[str] = ()
) -> dict[tuple[str, int], ModelVersion]:
    """The versions named by ``(group name, number)`` pairs, in one query; the
    pairs that name no version are missing from the answer."""
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return {}
    match = Q()
    for name, number in wanted:
        match |= Q(group__name=name, version=number)
    found = ModelVersion.objects.filter(match).select_related(
        "group", "created_by", *related
    )
    return {(v.group.name, v.version): v for v in found}


def metric_series(group: ModelGroup, limit: int = CHART_VERSIONS) -> dict[str, Any]:
    """Metrics of the group's latest ``limit`` versions, oldest first, for a chart."""
    rows = list(
        ModelVersion.objects.filter(group=group)
        .order_by("-version")
        .values_list("version", "metrics", "approval_status")[:limit]
    )[::-1]
    names = sorted({name for _, metrics, _ in rows for name in metrics})
    reported = {n: sum(n in metrics for _, metrics, _ in rows) for n in names}
    return {
        "versions": [number for number, _, _ in rows],
        "metrics": {n: [metrics.get(n) for _, metrics, _ in rows] for n in names},
        "approved": [
            number for number, _, status in rows if status == ApprovalStatus.APPROVED
        ],
        "most_reported": sorted(names, key=lambda n: (-reported[n], n)),
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


def _signature(versions: list[ModelVersion]) -> CompareSection:
    """Input and output schemas, one row per declared field ("input shape")."""

    def fields(side: str, schema: Any) -> dict[str, Any]:
        if schema is None:
            return {}
        if not isinstance(schema, dict):
            return {side: schema}
        return {f"{side} {key}": value for key, value in schema.items()}

    section = _keyed(
        "Signature",
        [
            {**fields("input", v.input_schema), **fields("output", v.output_schema)}
            for v in versions
        ],
    )
    declared = [v.input_schema is not None for v in versions]
    section.rows.insert(
        0, CompareRow("input declared", ["yes" if d else "no" for d in declared])
    )
    return section


def _computed(versions: list[ModelVersion]) -> CompareSection:
    """Computed metrics (with the evaluation set), and the reported metrics that
    differ from their computed twin."""
    from catalog.evaluation import mismatches

    section = _keyed(
        "Computed metrics",
        [
            {
                name: f"{_show(held['value'])} (set v{held['evaluation_set']})"
                for name, held in (v.computed_metrics or {}).items()
            }
            for v in versions
        ],
    )
    flagged = [
        ", ".join(
            f"{m['metric']}: reported {_show(m['reported'])}" for m in mismatches(v)
        )
        for v in versions
    ]
    if any(flagged):
        section.rows.append(
            CompareRow("reported ≠ computed", [f or MISSING for f in flagged])
        )
    return section


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
            row("Size", [filesizeformat(v.artifact_size) for v in versions]),
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
        _computed(versions),
        _signature(versions),
        _keyed("Hyperparameters", [v.hyperparameters for v in versions]),
        _keyed("Tags", [v.tags for v in versions]),
        _keyed("Lineage", [v.lineage for v in versions]),
        _keyed("Customer metadata", [v.customer_metadata for v in versions]),
    ]


# --- Evaluation -----------------------------------------------------------------------


def evaluation_set_list(*, group: ModelGroup) -> QuerySet[EvaluationSet]:
    """The group's evaluation sets, newest first."""
    return (
        EvaluationSet.objects.filter(group=group)
        .select_related("group", "created_by")
        .order_by("-version")
    )


def evaluation_set_get(*, group: ModelGroup, number: int) -> EvaluationSet:
    found = evaluation_set_list(group=group).filter(version=number).first()
    if found is None:
        raise NotFound(f"Evaluation set {number} of {group.name!r} does not exist.")
    return found


def evaluation_list(*, version: ModelVersion) -> QuerySet[Evaluation]:
    """The registry's evaluations of ``version``, newest set first."""
    return (
        Evaluation.objects.filter(version=version)
        .select_related("version", "evaluation_set")
        .order_by("-evaluation_set__version")
    )


def evaluation_get(pk: int) -> Evaluation:
    return Evaluation.objects.select_related("version", "evaluation_set").get(pk=pk)


def computed_on(version_ids: Iterable[int], number: int) -> dict[int, dict[str, float]]:
    """Each version's metrics computed on the group's evaluation set ``number`` (the
    versions that have them), in one query."""
    return dict(
        Evaluation.objects.filter(
            version_id__in=list(version_ids),
            evaluation_set__version=number,
            status=EvaluationStatus.SUCCEEDED,
        ).values_list("version_id", "metrics")
    )


def metric_mismatches(version: ModelVersion) -> list[dict[str, Any]]:
    """Reported metrics further than the tolerance from their computed twin."""
    from catalog.evaluation import mismatches

    return mismatches(version)


@dataclass
class ComputedRow:
    """One computed metric of a version beside its reported twin and the live one's."""

    metric: str
    computed: float
    evaluation_set: int
    reported: float | None
    live: float | None
    mismatch: bool


def computed_rows(version: ModelVersion, *, live_id: int | None) -> list[ComputedRow]:
    """The version's computed metrics for its page (one query for the live version's,
    none otherwise)."""
    from catalog.evaluation import mismatches

    live: dict[str, Any] = {}
    if live_id is not None and live_id != version.pk:
        live = (
            ModelVersion.objects.filter(pk=live_id)
            .values_list("computed_metrics", flat=True)
            .first()
            or {}
        )
    flagged = {m["metric"] for m in mismatches(version)}
    return [
        ComputedRow(
            metric=name,
            computed=held["value"],
            evaluation_set=held["evaluation_set"],
            reported=(version.metrics or {}).get(name),
            live=(live.get(name) or {}).get("value"),
            mismatch=name in flagged,
        )
        for name, held in sorted((version.computed_metrics or {}).items())
    ]


# --- Events ---------------------------------------------------------------------------


def event_list(
    *,
    kinds: Iterable[str] = (),
    group: str | None = None,
    version: int | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Event]:
    """Events matching all the given filters (group and actor by name)."""
    return _filtered(
        EventFilterSet,
        Event.objects.all(),
        kind=list(kinds),
        group=group,
        version=version,
        actor=actor,
        since=since,
        until=until,
    )


def event_page(
    *, before: int | None = None, **filters: Any
) -> tuple[list[Event], int | None]:
    """One page of ``event_list(**filters)``, newest first, keyed by id (no COUNT
    over the log): the rows, and the id to continue before."""
    events = event_list(**filters).order_by("-id")
    if before is not None:
        events = events.filter(id__lt=before)
    rows = list(events[: EVENT_PAGE + 1])
    more = rows[EVENT_PAGE - 1].pk if len(rows) > EVENT_PAGE else None
    return rows[:EVENT_PAGE], more


def event_get(pk: int) -> Event:
    event = Event.objects.filter(pk=pk).first()
    if event is None:
        raise NotFound(f"Event {pk} does not exist.")
    return event


# --- Aliases --------------------------------------------------------------------------


def alias_list(group: ModelGroup) -> QuerySet[Alias]:
    return (
        Alias.objects.filter(group=group)
        .select_related("version", "updated_by")
        .order_by("name")
    )


def alias_get(group: ModelGroup, name: str) -> Alias:
    alias = alias_list(group).filter(name=name).first()
    if alias is None:
        raise NotFound(f"Alias {name!r} does not exist.")
    return alias


def version_edits(version: ModelVersion) -> list[Event]:
    """The metadata changes of a version, oldest first (for its timeline)."""
    return list(
        Event.objects.filter(
            version_id=version.pk, kind=EventKind.VERSION_UPDATED
        ).order_by("id")
    )


def alias_targets(group_ids: Iterable[int], name: str) -> dict[int, int]:
    """Each group's version id behind alias ``name`` (e.g. ``champion``), one query."""
    rows = Alias.objects.filter(group_id__in=list(group_ids), name=name)
    return dict(rows.values_list("group_id", "version_id"))


def version_metrics(version_ids: Iterable[int]) -> dict[int, tuple[int, dict]]:
    """Number and metrics of each version id, in one query (for baselines)."""
    rows = ModelVersion.objects.filter(pk__in=set(version_ids)).values_list(
        "pk", "version", "metrics"
    )
    return {pk: (number, metrics or {}) for pk, number, metrics in rows}


def group_names(*, limit: int) -> list[str]:
    """Group names in order, at most ``limit`` (for pickers)."""
    return list(
        ModelGroup.objects.order_by("name").values_list("name", flat=True)[:limit]
    )


# --- Searches by condition (the MLflow face's filter grammar, parsed by the face) -----


@dataclass(frozen=True)
class Condition:
    """One clause of a search: ``field op value``.

    ``field`` is ``name``, ``tag:<key>`` (both faces), and for versions also
    ``version``, ``run_id``, ``source_uri`` or ``stage``. ``op`` is one of
    ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE``, ``ILIKE`` (SQL patterns:
    ``%`` any run, ``_`` one character), ``IN``, ``NOT IN`` (``value`` a list).
    """

    field: str
    op: str
    value: Any


GROUP_SEARCH_FIELDS = {"name": "name"}
VERSION_SEARCH_FIELDS = {
    "name": "group__name",
    "version": "version",
    "run_id": "run_id",
    "source_uri": "source_uri",
    "stage": "stage",
}
GROUP_SEARCH_ORDER = {
    "name": "name",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
VERSION_SEARCH_ORDER = {
    "name": "group__name",
    "version": "version",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "run_id": "run_id",
}
_COMPARE = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def _like_regex(pattern: str) -> str:
    """A SQL LIKE pattern as an anchored regular expression."""
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "^" + "".join(parts) + "$"


def _condition_q(
    queryset: QuerySet, condition: Condition, columns: dict[str, str]
) -> tuple[QuerySet, Q]:
    """The filter of one condition (annotating ``queryset`` for a tag's value)."""
    field, op, value = condition.field, condition.op, condition.value
    if field.startswith("tag:"):
        alias = f"_tag_{len(queryset.query.annotations)}"
        # Cast: a JSON key transform would compare with JSON, not with text.
        value_of = Cast(KeyTextTransform(field[4:], "tags"), TextField())
        queryset = queryset.annotate(**{alias: value_of})
        column = alias
    elif field in columns:
        column = columns[field]
    else:
        raise Invalid.on("filter", f"Unknown search field {field!r}.")
    if op == "=":
        return queryset, Q(**{column: value})
    if op == "!=":  # a tag the row lacks is not equal either (MLflow's client
        # hides prompts with ``tag.`mlflow.prompt.is_prompt` != 'true'``)
        return queryset, ~Q(**{column: value}) | Q(**{f"{column}__isnull": True})
    if op in _COMPARE:
        return queryset, Q(**{f"{column}__{_COMPARE[op]}": value})
    if op in ("LIKE", "ILIKE"):
        lookup = "regex" if op == "LIKE" else "iregex"
        return queryset, Q(**{f"{column}__{lookup}": _like_regex(str(value))})
    if op == "IN":
        return queryset, Q(**{f"{column}__in": list(value)})
    if op == "NOT IN":
        return queryset, ~Q(**{f"{column}__in": list(value)})
    raise Invalid.on("filter", f"Unknown comparison {op!r}.")


def _searched(
    queryset: QuerySet,
    conditions: Iterable[Condition],
    ordering: Sequence[tuple[str, bool]],
    columns: dict[str, str],
    orders: dict[str, str],
) -> QuerySet:
    for condition in conditions:
        queryset, q = _condition_q(queryset, condition, columns)
        queryset = queryset.filter(q)
    keys = []
    for name, descending in ordering:
        if name not in orders:
            raise Invalid.on("order_by", f"Cannot order by {name!r}.")
        keys.append(("-" if descending else "") + orders[name])
    return queryset.order_by(*keys, "id")


def group_search(
    *,
    conditions: Iterable[Condition] = (),
    ordering: Sequence[tuple[str, bool]] = (("name", False),),
) -> QuerySet[ModelGroup]:
    """Groups matching every condition, in ``ordering`` ((field, descending) pairs of
    GROUP_SEARCH_ORDER). Slice it for a page."""
    groups = ModelGroup.objects.select_related("created_by")
    return _searched(
        groups, conditions, ordering, GROUP_SEARCH_FIELDS, GROUP_SEARCH_ORDER
    )


def version_search(
    *,
    conditions: Iterable[Condition] = (),
    ordering: Sequence[tuple[str, bool]] = (("name", False), ("version", True)),
) -> QuerySet[ModelVersion]:
    """Versions of any group matching every condition, in ``ordering`` ((field,
    descending) pairs of VERSION_SEARCH_ORDER). Slice it for a page."""
    versions = (
        ModelVersion.objects.select_related("group", "created_by")
        .prefetch_related(_aliases())
        .defer(*LIST_DEFERRED)
    )
    return _searched(
        versions, conditions, ordering, VERSION_SEARCH_FIELDS, VERSION_SEARCH_ORDER
    )


def latest_by_stage(
    groups: Sequence[ModelGroup], stages: Iterable[str] = ()
) -> dict[int, list[ModelVersion]]:
    """For each group, its highest version in each stage (only ``stages`` if given),
    in two queries whatever the number of groups: one index probe per group and
    stage (``catalog_ver_group_stage``), then the versions found."""
    wanted = list(stages) or list(Stage.values)
    tops = ModelGroup.objects.filter(pk__in=[g.pk for g in groups]).values_list(
        *[
            Subquery(
                ModelVersion.objects.filter(group=OuterRef("pk"), stage=stage)
                .order_by("-version")
                .values("pk")[:1]
            )
            for stage in wanted
        ]
    )
    ids = [pk for row in tops for pk in row if pk is not None]
    versions = (
        ModelVersion.objects.filter(pk__in=ids)
        .select_related("group", "created_by")
        .prefetch_related(_aliases())
        .defer(*LIST_DEFERRED)
        .order_by("group_id", "version")
    )
    found: dict[int, list[ModelVersion]] = {g.pk: [] for g in groups}
    for version in versions if ids else []:
        found[version.group_id].append(version)
    return found


def version_by_alias(group: ModelGroup, name: str) -> ModelVersion:
    """The version alias ``name`` of ``group`` points at (``latest``: the highest)."""
    if name == "latest":
        version = (
            ModelVersion.objects.filter(group=group)
            .select_related("group", "created_by")
            .prefetch_related(_aliases())
            .order_by("-version")
            .first()
        )
        if version is None:
            raise NotFound(f"Model group {group.name!r} has no versions.")
        return version
    alias = alias_get(group, name)
    return version_get(group.name, alias.version.version)


def aliases_of(groups: Sequence[ModelGroup]) -> dict[int, list[Alias]]:
    """Each group's aliases with their versions' numbers, in one query."""
    found: dict[int, list[Alias]] = {g.pk: [] for g in groups}
    rows = (
        Alias.objects.filter(group__in=[g.pk for g in groups])
        .select_related("version")
        .only("name", "group_id", "version__version")
        .order_by("name")
    )
    for alias in rows:
        found[alias.group_id].append(alias)
    return found
