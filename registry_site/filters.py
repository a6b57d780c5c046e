"""Filter fields shared by the apps' FilterSets, and the query string parsed by one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters as filters
from django import forms
from django.http import QueryDict

from registry_site.errors import Invalid

# The largest id or number any column holds; larger is a 400, not a database overflow.
MAX_ID = 2**63 - 1


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
