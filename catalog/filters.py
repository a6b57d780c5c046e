"""FilterSets for groups, versions and events.

Version filters take metric thresholds as ``metric=<name><op><number>`` with ``op``
one of ``>=``, ``<=``, ``>``, ``<``, ``=`` (repeatable, all must hold), tags as
``tag=<key>:<value>``, and ordering as ``ordering=[-]version|created_at|metric:<name>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.http import QueryDict

from catalog.models import (
    ApprovalStatus,
    Event,
    Metric,
    ModelGroup,
    ModelVersion,
    RegistrationStatus,
)
from common.errors import Invalid
from common.filters import IdFilter, MomentFilter, query_values

METRIC_FILTER_RE = re.compile(r"^([A-Za-z0-9_.\/-]{1,64})(>=|<=|>|<|=)(.+)\Z")
METRIC_NAME_RE = re.compile(r"^[A-Za-z0-9_.\/-]{1,64}\Z")
OPERATORS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "exact"}
ORDERING_HELP = "Use [-]version, [-]created_at or [-]metric:<name>."

Tag = tuple[str, str]
Bound = tuple[str, str, float]  # ("auc", ">=", 0.9)


def parse_tag(raw: str, field: str = "tag") -> Tag:
    """``key:value`` as ``(key, value)``."""
    key, sep, value = raw.partition(":")
    if not sep or not key:
        raise Invalid.on(field, f"Use {field}=key:value (got {raw[:60]!r}).")
    return key, value


def parse_bound(expression: str) -> Bound:
    """``accuracy>=0.9`` as ``("accuracy", ">=", 0.9)``."""
    match = METRIC_FILTER_RE.match(expression.replace(" ", ""))
    if not match:
        raise Invalid.on(
            "metric",
            "Use metric=<name><op><number> with op one of "
            f">=, <=, >, <, = (got {expression[:60]!r}).",
        )
    metric, op, number = match.groups()
    try:
        threshold = float(number)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold):
        raise Invalid.on("metric", f"{number[:30]!r} is not a finite number.")
    return metric, op, threshold


def check_version_ordering(ordering: str) -> str:
    key = ordering.lstrip("-")
    metric = key.startswith("metric:") and METRIC_NAME_RE.match(key[7:])
    if not (key in {"version", "created_at"} or metric):
        raise Invalid.on("ordering", ORDERING_HELP)
    return ordering


def filter_tags(queryset: QuerySet, tags: list[Tag]) -> QuerySet:
    """Rows whose ``tags`` hold every ``(key, value)``."""
    for key, value in tags:
        # An explicit lookup: the key may hold characters (such as "__") that a
        # keyword lookup would misread, and the value is compared as a JSON string.
        name = f"_tag_{len(queryset.query.annotations)}"
        queryset = queryset.alias(**{name: KeyTransform(key, "tags")}).filter(
            **{name: value}
        )
    return queryset


class _Repeated(forms.Field):
    """Every value of a repeated query parameter, each parsed by ``parse``; blank
    values are left out. Already parsed values (from code) pass as they are."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *args: Any, parse: Callable[[str], Any], **kwargs: Any):
        self.parse = parse
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> list[Any]:
        values = value if isinstance(value, list | tuple) else [value]
        try:
            return [
                self.parse(v) if isinstance(v, str) else v
                for v in values
                if v is not None and (not isinstance(v, str) or v.strip())
            ]
        except Invalid as exc:
            raise forms.ValidationError(next(iter(exc.fields.values()))) from exc


class TagFilter(filters.CharFilter):
    """``tag=key:value``, repeatable: all must hold."""

    field_class = _Repeated

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label", "key:value (repeatable)")
        super().__init__(*args, parse=parse_tag, **kwargs)

    def filter(self, qs: QuerySet, value: list[Tag]) -> QuerySet:
        return filter_tags(qs, value) if value else qs


class _OrderingField(forms.CharField):
    def to_python(self, value: Any) -> str:
        value = super().to_python(value)
        if value:
            try:
                check_version_ordering(value)
            except Invalid as exc:
                raise forms.ValidationError(ORDERING_HELP) from exc
        return value


class GroupFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search name and description")
    tag = TagFilter()
    created_by = filters.CharFilter(field_name="created_by__username")
    created_by_id = IdFilter(field_name="created_by_id")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")
    ordering = filters.OrderingFilter(fields=("name", "created_at", "updated_at"))

    class Meta:
        model = ModelGroup
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(description__icontains=value)
        )


def apply_metric_filters(queryset: QuerySet, bounds: list[Bound]) -> QuerySet:
    """Versions for which every ``(metric, op, threshold)`` holds."""
    for metric, op, threshold in bounds:
        if op not in OPERATORS or not math.isfinite(threshold):
            raise Invalid.on("metric", f"{metric}{op}{threshold} is not a bound.")
        rows = Metric.objects.filter(
            group_id=OuterRef("group_id"),
            version=OuterRef("pk"),
            name=metric,
            **{f"value__{OPERATORS[op]}": threshold},
        )
        queryset = queryset.filter(Exists(rows))
    return queryset


class MetricFilter(filters.CharFilter):
    """``metric=<name><op><number>``, repeatable: all must hold."""

    field_class = _Repeated

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "label", "<name><op><number>, e.g. accuracy>=0.9 (repeatable)"
        )
        super().__init__(*args, parse=parse_bound, **kwargs)

    def filter(self, qs: QuerySet, value: list[Bound]) -> QuerySet:
        return apply_metric_filters(qs, value) if value else qs


def apply_version_ordering(queryset: QuerySet, ordering: str) -> QuerySet:
    descending = check_version_ordering(ordering).startswith("-")
    key = ordering.lstrip("-")
    if key in {"version", "created_at"}:
        return queryset.order_by(f"-{key}" if descending else key, "-id")
    value = Subquery(
        Metric.objects.filter(version=OuterRef("pk"), name=key[7:]).values("value")[:1]
    )
    expr = F("_order_metric")
    order = expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True)
    return queryset.alias(_order_metric=value).order_by(order, "-version")


class VersionOrderingFilter(filters.CharFilter):
    """``ordering=[-]version|created_at|metric:<name>``."""

    field_class = _OrderingField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label", "[-]version, [-]created_at or [-]metric:<name>")
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        return apply_version_ordering(qs, value) if value else qs


class VersionFilterSet(filters.FilterSet):
    approval_status = filters.MultipleChoiceFilter(choices=ApprovalStatus.choices)
    registration_status = filters.MultipleChoiceFilter(
        choices=RegistrationStatus.choices
    )
    tag = TagFilter()
    metric = MetricFilter()
    created_by = filters.CharFilter(field_name="created_by__username")
    created_by_id = IdFilter(field_name="created_by_id")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")
    version_min = IdFilter(field_name="version", lookup_expr="gte")
    version_max = IdFilter(field_name="version", lookup_expr="lte")
    ordering = VersionOrderingFilter()

    class Meta:
        model = ModelVersion
        fields: list[str] = []


class EventFilterSet(filters.FilterSet):
    kind = filters.BaseInFilter(
        field_name="kind", lookup_expr="in", label="event kinds, comma-separated"
    )
    group = filters.CharFilter(field_name="group_name")
    version = IdFilter(field_name="version_number")
    actor = filters.CharFilter(field_name="actor_name")
    since = MomentFilter(field_name="created_at", lookup_expr="gte")
    until = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields: list[str] = []


# Query parameters are singular (repeated in the query string); selector arguments
# that hold several values are plural.
KEYWORDS = {"tag": "tags", "metric": "metrics", "kind": "kinds"}


def arguments(
    filterset_class: type[filters.FilterSet],
    params: QueryDict,
    *,
    only: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The query string's filters as the keyword arguments of the matching selector
    (``group_list``, ``version_list``, ``event_list``); raises Invalid naming every
    bad parameter."""
    values = query_values(filterset_class, params, only=only)
    return {KEYWORDS.get(name, name): value for name, value in values.items()}
