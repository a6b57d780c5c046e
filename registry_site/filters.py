"""Filter fields shared by the apps' FilterSets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters as filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

# The largest id or number any column holds; larger is a 400, not a database overflow.
MAX_ID = 2**63 - 1
MAX_UTC_OFFSET = dt.timedelta(hours=14)


class IdFilter(filters.NumberFilter):
    """A whole number from 0 to ``MAX_ID`` (an id or a version number)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)


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
