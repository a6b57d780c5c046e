"""Filter fields shared by the apps' FilterSets."""

from __future__ import annotations

from typing import Any

import django_filters as filters

# The largest id or number any column holds; larger is a 400, not a database overflow.
MAX_ID = 2**63 - 1


class IdFilter(filters.NumberFilter):
    """A whole number from 0 to ``MAX_ID`` (an id or a version number)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)
