"""Claiming rows with a lease, and backing off between attempts.

Background work (a notification, a webhook delivery, a deployment) is a row that a
worker claims with one conditional UPDATE: the row is free when its lease is unset or
has run out, and the claim counts the attempt and sets a new lease. A redelivered
message then finds the row taken and exits quietly; a dead worker's row is free again
once its lease runs out. Each app keeps its own lease column, named by the caller.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone


def backoff(attempt: int, *, base: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …): base, 2·base, 4·base."""
    return base * 2 ** (max(attempt, 1) - 1)


def free(lease_field: str, now: datetime) -> Q:
    """Rows whose lease in ``lease_field`` is unset or has run out at ``now``."""
    return Q(**{f"{lease_field}__isnull": True}) | Q(**{f"{lease_field}__lte": now})


def claim(
    rows: QuerySet[Any],
    *,
    lease_field: str,
    lease: timedelta,
    now: datetime | None = None,
    **changes: Any,
) -> int:
    """Lease the free rows of ``rows`` until ``now + lease``, counting an attempt on each,
    and apply ``changes``, in one UPDATE; returns how many rows were claimed."""
    now = now or timezone.now()
    return rows.filter(free(lease_field, now)).update(
        **{lease_field: now + lease}, attempts=F("attempts") + 1, **changes
    )
