"""FilterSets for groups, versions and events.

Version filters take metric thresholds as ``metric=<name><op><number>`` with ``op``
one of ``>=``, ``<=``, ``>``, ``<``, ``=`` (repeatable, all must hold), tags as
``tag=<key>:<value>``, and ordering as ``ordering=[-]version|created_at|metric:<name>``.
"""

from __future__ import annotations

import math
import re

import django_filters as filters
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform

from catalog.models import (
    ApprovalStatus,
    Event,
    Metric,
    ModelGroup,
    ModelVersion,
    RegistrationStatus,
)
from registry_site.errors import Invalid
from registry_site.filters import IdFilter, MomentFilter

METRIC_FILTER_RE = re.compile(r"^([A-Za-z0-9_.\/-]{1,64})(>=|<=|>|<|=)(.+)\Z")
OPERATORS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "exact"}


def _bad(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", fields={field: message})


def filter_tags(queryset: QuerySet, values: list[str], field: str = "tag") -> QuerySet:
    for raw in values:
        key, sep, value = raw.partition(":")
        if not sep or not key:
            raise _bad(field, f"Use {field}=key:value (got {raw[:60]!r}).")
        # An explicit lookup: the key may hold characters (such as "__") that a
        # keyword lookup would misread, and the value is compared as a JSON string.
        name = f"_tag_{len(queryset.query.annotations)}"
        queryset = queryset.alias(**{name: KeyTransform(key, "tags")}).filter(
            **{name: value}
        )
    return queryset


class GroupFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search name and description")
    tag = filters.CharFilter(method="tag_filter", label="key:value (repeatable)")
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

    def tag_filter(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return filter_tags(queryset, self.data.getlist("tag"))


def apply_metric_filters(queryset: QuerySet, expressions: list[str]) -> QuerySet:
    for expression in expressions:
        match = METRIC_FILTER_RE.match(expression.replace(" ", ""))
        if not match:
            raise _bad(
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
            raise _bad("metric", f"{number[:30]!r} is not a finite number.")
        rows = Metric.objects.filter(
            group_id=OuterRef("group_id"),
            version=OuterRef("pk"),
            name=metric,
            **{f"value__{OPERATORS[op]}": threshold},
        )
        queryset = queryset.filter(Exists(rows))
    return queryset


def apply_version_ordering(queryset: QuerySet, ordering: str) -> QuerySet:
    descending = ordering.startswith("-")
    key = ordering.lstrip("-")
    if key in {"version", "created_at"}:
        return queryset.order_by(f"-{key}" if descending else key, "-id")
    if key.startswith("metric:") and re.match(r"^[A-Za-z0-9_.\/-]{1,64}\Z", key[7:]):
        value = Subquery(
            Metric.objects.filter(version=OuterRef("pk"), name=key[7:]).values("value")[
                :1
            ]
        )
        queryset = queryset.alias(_order_metric=value)
        expr = F("_order_metric")
        order = expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True)
        return queryset.order_by(order, "-version")
    raise _bad("ordering", "Use [-]version, [-]created_at or [-]metric:<name>.")


class VersionFilterSet(filters.FilterSet):
    approval_status = filters.MultipleChoiceFilter(choices=ApprovalStatus.choices)
    registration_status = filters.MultipleChoiceFilter(
        choices=RegistrationStatus.choices
    )
    tag = filters.CharFilter(method="tag_filter", label="key:value (repeatable)")
    metric = filters.CharFilter(
        method="metric_filter",
        label="<name><op><number>, e.g. accuracy>=0.9 (repeatable)",
    )
    created_by = filters.CharFilter(field_name="created_by__username")
    created_by_id = IdFilter(field_name="created_by_id")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")
    version_min = IdFilter(field_name="version", lookup_expr="gte")
    version_max = IdFilter(field_name="version", lookup_expr="lte")
    ordering = filters.CharFilter(
        method="order", label="[-]version, [-]created_at or [-]metric:<name>"
    )

    class Meta:
        model = ModelVersion
        fields: list[str] = []

    def tag_filter(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return filter_tags(queryset, self.data.getlist("tag"))

    def metric_filter(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return apply_metric_filters(queryset, self.data.getlist("metric"))

    def order(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return apply_version_ordering(queryset, value) if value else queryset


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
