"""Claiming rows with a lease, and backing off between attempts.

Background work (a notification, a webhook delivery, a deployment) is a row that a
worker claims with one conditional UPDATE: the row is free when its lease is unset or
has run out, and the claim counts the attempt and sets a new lease. Long work keeps
a short lease alive with ``renewed``. A redelivered
message then finds the row taken and exits quietly; a dead worker's row is free again
once its lease runs out. Each app keeps its own lease column, named by the caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)


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


@contextmanager
def renewed(
    rows: QuerySet[Any], *, lease_field: str, lease: timedelta
) -> Iterator[None]:
    """While the block runs, push the lease of ``rows`` to ``now + lease`` every third
    of ``lease``, from a thread with its own database connection, so a short lease
    follows long work: a live worker keeps its row, a killed one loses it within one
    lease. ``rows`` should select the row only while it is still this worker's (its
    status and attempt); renewal stops once nothing matches.

    Inside a transaction of the caller there is nothing to renew: another connection
    could not see (and would wait on) the caller's uncommitted claim."""
    if connection.in_atomic_block:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=_renew,
        args=(rows, lease_field, lease, stop),
        name=f"lease-renewal-{lease_field}",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1)


def _renew(
    rows: QuerySet[Any], lease_field: str, lease: timedelta, stop: threading.Event
) -> None:
    try:
        while not stop.wait(lease.total_seconds() / 3):
            try:
                if not rows.update(**{lease_field: timezone.now() + lease}):
                    return  # not ours any more (finished, or taken over)
            except DatabaseError:  # the next beat tries again, within the lease
                log.warning("could not renew a lease", exc_info=True)
    finally:
        connection.close()  # this thread's own connection
