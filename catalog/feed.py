"""The event feed: ``GET /api/v1/events/?after=<cursor>`` returns every event exactly
once, even while events are being written.

Event ids are taken when a row is inserted, not when its transaction commits, so on
PostgreSQL an event with a smaller id can become visible after one with a larger id.
Each event therefore records its transaction id, and the feed only hands out events
of transactions older than every transaction still running
(``pg_snapshot_xmin``), ordered by ``(txid, id)``: nothing can appear behind the
cursor afterwards. On SQLite writers are serialised, so ids commit in order and
``txid`` is 0.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL

from catalog.models import Event
from common.errors import Invalid

CURSOR_RE = re.compile(r"^(\d{1,20})-(\d{1,20})\Z")


def txid_expression() -> Any:
    """The value for ``Event.txid``: computed by the INSERT itself on PostgreSQL."""
    if connection.vendor != "postgresql":
        return 0
    return RawSQL(
        "pg_current_xact_id()::text::bigint", [], output_field=BigIntegerField()
    )


def _horizon() -> int | None:
    """Transactions below this id have all finished (None: no limit needed)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def parse_cursor(value: str) -> tuple[int, int]:
    if value in {"0", ""}:
        return (0, 0)
    match = CURSOR_RE.match(value)
    if not match:
        message = "Use a cursor from next_cursor, 0 for the beginning, or 'now'."
        raise Invalid.on("after", message)
    return int(match.group(1)), int(match.group(2))


def cursor_of(event: Event) -> str:
    return f"{event.txid}-{event.id}"


def head_cursor() -> str:
    """A cursor after every event that exists now: poll from here to see only news."""
    horizon = _horizon()
    events = Event.objects.all()
    if horizon is not None:
        events = events.filter(txid__lt=horizon)
    last = events.order_by("-txid", "-id").first()
    return cursor_of(last) if last else "0"


def page(
    events: QuerySet[Event], after: str, limit: int
) -> tuple[list[Event], str, bool]:
    """Events after ``after`` in feed order; returns them, the next cursor, more?"""
    if after == "now":
        return [], head_cursor(), False
    txid, event_id = parse_cursor(after)
    horizon = _horizon()
    rows = events.filter(Q(txid__gt=txid) | Q(txid=txid, id__gt=event_id))
    if horizon is not None:
        rows = rows.filter(txid__lt=horizon)
    batch = list(rows.order_by("txid", "id")[: limit + 1])
    more = len(batch) > limit
    batch = batch[:limit]
    next_cursor = cursor_of(batch[-1]) if batch else (after if after != "0" else "0")
    return batch, next_cursor, more
