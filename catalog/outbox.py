"""The event table as an outbox: other apps subscribe to event kinds.

``event_record`` rings a doorbell (a Celery task) after commit for kinds that have
subscribers; the periodic sweep finds any event a consumer has not handled yet (the
broker was down, a worker died), so every subscriber sees every event exactly once.
A handler runs inside the transaction that marks the event handled for its consumer,
so it must only write rows (and enqueue work on commit), never call out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from catalog.models import Event, HandledEvent
from common import doorbell

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]


@dataclass(frozen=True)
class Subscription:
    consumer: str
    kinds: frozenset[str] | None  # None: every kind

    def wants(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    handler: Handler


_subscriptions: dict[str, Subscription] = {}
SWEEP_WINDOW = timedelta(days=2)
# Events younger than this are left to their doorbell, so that a sweep does not race
# the task that the commit just enqueued.
SWEEP_GRACE = timedelta(seconds=5)


def subscribe(
    consumer: str, kinds: set[str] | frozenset[str] | None, handler: Handler
) -> None:
    """Register ``handler`` for events of ``kinds``; call from ``AppConfig.ready``."""
    _subscriptions[consumer] = Subscription(
        consumer, None if kinds is None else frozenset(kinds), handler
    )


def ring(event: Event) -> None:
    """Enqueue dispatch of ``event`` once the current transaction commits."""
    if not any(sub.wants(event.kind) for sub in _subscriptions.values()):
        return
    from catalog.tasks import dispatch_event_task

    event_id = event.pk
    doorbell.ring_after_commit(dispatch_event_task, event_id)


def dispatch(event_id: int) -> int:
    """Hand one event to every subscriber that has not handled it; returns how many did."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return 0
    # One commit for all consumers; each runs in its own savepoint, so one that
    # fails is left for the sweep without undoing the others.
    with transaction.atomic():
        return sum(
            _handle(sub, event)
            for sub in _subscriptions.values()
            if sub.wants(event.kind)
        )


def _handle(sub: Subscription, event: Event) -> bool:
    try:
        with transaction.atomic():
            HandledEvent.objects.create(consumer=sub.consumer, event_id=event.pk)
            sub.handler(event)
    except IntegrityError:
        return False  # another worker handled it first
    except Exception:
        log.exception(
            "outbox: %s failed on event %s; the sweep retries it",
            sub.consumer,
            event.pk,
        )
        return False
    return True


def sweep(now: timedelta | None = None) -> int:
    """Dispatch events that some subscriber has missed; returns how many were handled."""
    now_ts = timezone.now()
    handled = 0
    for sub in _subscriptions.values():
        recent = Event.objects.filter(
            created_at__gte=now_ts - SWEEP_WINDOW, created_at__lt=now_ts - SWEEP_GRACE
        )
        if sub.kinds is not None:
            recent = recent.filter(kind__in=sub.kinds)
        missed = recent.exclude(
            Exists(
                HandledEvent.objects.filter(
                    consumer=sub.consumer, event_id=OuterRef("pk")
                )
            )
        ).order_by("id")[:500]
        for event in missed:
            if _handle(sub, event):
                handled += 1
                log.info("outbox: %s handled missed event %s", sub.consumer, event.pk)
    return handled
