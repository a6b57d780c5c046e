"""Filter fields shared by the apps' FilterSets, and the query string parsed by one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django_filters.fields import IsoDateTimeField

from common.errors import Invalid

# The largest id or number any column holds; larger is a 400, not a database overflow.
MAX_ID = 2**63 - 1
MAX_UTC_OFFSET = dt.timedelta(hours=14)


class IdField(forms.DecimalField):
    def clean(self, value: Any) -> int | None:
        number = super().clean(value)
        return None if number is None else int(number)


class IdFilter(filters.NumberFilter):
    """A whole number from 0 to ``MAX_ID`` (an id or a version number)."""

    field_class = IdField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)


def query_values(
    filterset_class: type[filters.FilterSet],
    params: QueryDict,
    *,
    only: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The query string's filter parameters (all, or ``only`` these) as typed values,
    blank ones left out; raises Invalid naming every bad parameter."""
    data = QueryDict(mutable=True)
    for name in filterset_class.base_filters if only is None else only:
        values = [v for v in params.getlist(name) if v.strip()]
        if values:
            data.setlist(name, values)
    form = filterset_class(data).form
    if not form.is_valid():
        fields = {
            name: [str(e) for e in errors] for name, errors in form.errors.items()
        }
        message = "; ".join(f"{name}: {errors[0]}" for name, errors in fields.items())
        raise Invalid(message, fields=fields)
    return {name: form.cleaned_data[name] for name in data}


class MomentField(IsoDateTimeField):
    """An ISO 8601 date-time whose UTC offset is a real one (within ±14:00), in UTC.

    Python accepts offsets up to ±23:59, PostgreSQL refuses those past ±15:59 with an
    error (a 500 if it escaped); dates at the edge of the calendar overflow in UTC.
    """

    def to_python(self, value: Any) -> Any:
        moment = super().to_python(value)
        if moment is None or moment.utcoffset() is None:
            return moment
        offset = moment.utcoffset()
        if offset is None or abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError("Use a UTC offset from -14:00 to +14:00.", "invalid")
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValidationError(
                "Out of the supported date range.", "invalid"
            ) from exc


class MomentFilter(filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` with ``MomentField``'s checks."""

    field_class = MomentField
