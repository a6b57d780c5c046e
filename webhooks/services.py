"""Webhook subscriptions and deliveries.

Events become Delivery rows in the outbox handler's transaction; a Celery task
then POSTs each one (signed, SSRF-checked) and records every attempt. Failures are
retried with exponential backoff until the retry window closes; the sweep picks up
deliveries whose doorbell or worker was lost.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.roles import Actor, Role, has_role, require_role
from catalog.models import EVENT_KINDS, Event, EventKind, ModelGroup, ModelVersion
from catalog.services import event_record
from common import doorbell, leases, outbound
from common.errors import Conflict, Invalid
from webhooks import payloads
from webhooks.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    PayloadFormat,
    Subscription,
)

log = logging.getLogger(__name__)
MANAGE_ROLES = (Role.DEPLOYER,)
LEASE = timedelta(seconds=60)


# --- Subscriptions ------------------------------------------------------------------


def _clean(*, url: Any, events: Any, secret: Any, payload_format: Any) -> None:
    if not isinstance(url, str) or not url:
        raise Invalid.on("url", "Required.")
    outbound.validate_url(url, "url")
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(kind, str) for kind in events)
    ):
        raise Invalid.on("events", 'A non-empty list of event kinds (or ["*"]).')
    unknown = sorted(set(events) - EVENT_KINDS - {"*"})
    if unknown:
        message = f"Unknown event kind(s): {', '.join(unknown)}."
        raise Invalid.on("events", message)
    if not isinstance(secret, str) or len(secret) < 16:
        message = "At least 16 characters; the receiver uses it to check signatures."
        raise Invalid.on("secret", message)
    if payload_format not in PayloadFormat.values:
        message = f"Use one of {', '.join(PayloadFormat.values)}."
        raise Invalid.on("payload_format", message)


def _record(
    kind: EventKind, actor: Actor, subscription: Subscription, **extra: Any
) -> None:
    """The audit event of a subscription change. It names the URL's origin only: a
    path or query may hold a receiver's token, and the event log is widely read."""
    parts = urlsplit(subscription.url)
    event_record(
        kind,
        actor=actor,
        group=subscription.model_group,
        payload={
            "webhook": subscription.pk,
            "url": f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}",
            **extra,
        },
    )


@transaction.atomic
def subscription_create(
    *,
    actor: Actor,
    url: str,
    events: list[str],
    secret: str,
    model_group: ModelGroup | None = None,
    payload_format: str = PayloadFormat.REGISTRY,
    description: str = "",
    active: bool = True,
) -> Subscription:
    """Subscribe ``url`` to events (deployers and admins)."""
    actor = require_role(actor, *MANAGE_ROLES, action="manage webhooks")
    _clean(url=url, events=events, secret=secret, payload_format=payload_format)
    subscription = Subscription.objects.create(
        url=url,
        events=sorted(set(events)),
        secret=secret,
        model_group=model_group,
        payload_format=payload_format,
        description=description[:500],
        active=bool(active),
        created_by=actor,
    )
    _record(
        EventKind.WEBHOOK_CREATED,
        actor,
        subscription,
        events=subscription.events,
        payload_format=payload_format,
        active=subscription.active,
    )
    return subscription


@transaction.atomic
def subscription_update(
    *, actor: Actor, subscription: Subscription, **fields: Any
) -> Subscription:
    """Change a subscription; its URL and secret only by its owner or an admin."""
    require_role(actor, *MANAGE_ROLES, action="manage webhooks")
    outbound.check_retarget(
        fields,
        ("url", "secret"),
        current_url=subscription.url,
        may_retarget=actor.pk == subscription.created_by_id
        or has_role(actor, Role.ADMIN),
        what="webhook",
    )
    changed = sorted(k for k, v in fields.items() if getattr(subscription, k) != v)
    if not changed:
        return subscription
    for name in changed:
        setattr(subscription, name, fields[name])
    _clean(
        url=subscription.url,
        events=subscription.events,
        secret=subscription.secret,
        payload_format=subscription.payload_format,
    )
    subscription.save()
    if not subscription.active:
        _cancel_pending(subscription)
    _record(EventKind.WEBHOOK_UPDATED, actor, subscription, fields=changed)
    return subscription


def _cancel_pending(subscription: Subscription) -> int:
    """Deliveries not sent yet are cancelled; a claimed one checks again (``_claim``)."""
    return _cancel(Delivery.objects.filter(subscription=subscription))


def _cancel(deliveries: Any) -> int:
    return deliveries.filter(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED,
        finished_at=timezone.now(),
        lease_until=None,
        last_error="The webhook was deactivated before this was sent.",
    )


@transaction.atomic
def subscription_delete(*, actor: Actor, subscription: Subscription) -> None:
    """Delete a subscription and its delivery log."""
    require_role(actor, *MANAGE_ROLES, action="manage webhooks")
    _record(EventKind.WEBHOOK_DELETED, actor, subscription)
    # Redeliveries share their original's event; a cascade that first unlinks them
    # from the original would make two rows "the" delivery of one event.
    Delivery.objects.filter(subscription=subscription).update(
        event_id=None, redelivery_of=None
    )
    subscription.delete()


# --- From events to deliveries -----------------------------------------------------------


def _payload(
    subscription: Subscription, delivery_id: str, event: Event
) -> dict[str, Any] | None:
    if subscription.payload_format == PayloadFormat.SAGEMAKER:
        return _sagemaker(delivery_id, event)
    return payloads.registry_payload(delivery_id, event)


def _sagemaker(delivery_id: str, event: Event) -> dict[str, Any] | None:
    """SageMaker's event as things stood at ``event``, from the version's events
    (the handler may run long after them: the version may have moved on since)."""
    if event.kind not in payloads.SAGEMAKER_KINDS or event.version_id is None:
        return None
    history = Event.objects.filter(version_id=event.version_id)
    registered = (
        history.filter(kind=EventKind.VERSION_REGISTERED, pk__lte=event.pk)
        .order_by("pk")
        .first()
    )
    earlier = (
        history.filter(kind__in=payloads.STATUS_AFTER, pk__lt=event.pk)
        .order_by("-pk")
        .first()
    )
    return payloads.sagemaker_payload(
        delivery_id,
        event,
        status=payloads.status_after(event, earlier),
        registered=registered or event,
        details=_details(event, history),
    )


def _details(event: Event, history: Any) -> dict[str, Any]:
    """Description and customer metadata at ``event``: recorded by the event, or the
    version's value now if no later event changed it (else left out: unknown)."""
    recorded = event.payload or {}
    changed_later: set[str] = set()
    for payload in history.filter(
        kind=EventKind.VERSION_UPDATED, pk__gt=event.pk
    ).values_list("payload", flat=True):
        changed_later.update((payload or {}).get("fields", []))
    now = dict(
        ModelVersion.objects.filter(pk=event.version_id or 0)
        .values("description", "customer_metadata")
        .first()
        or {}
    )
    details: dict[str, Any] = {}
    for name in ("description", "customer_metadata"):
        if name in recorded:
            details[name] = recorded[name]
        elif name not in changed_later and name in now:
            details[name] = now[name]
    return details


def _enqueue(delivery: Delivery, countdown: float | None = None) -> None:
    from webhooks.tasks import deliver_task

    doorbell.ring_after_commit(deliver_task, delivery.pk, countdown=countdown)


def on_event(event: Event) -> None:
    """Outbox handler: one Delivery per interested active subscription."""
    for subscription in Subscription.objects.filter(active=True):
        if not subscription.wants(event.kind, event.group_id):
            continue
        delivery_id = uuid.uuid4()
        body = _payload(subscription, str(delivery_id), event)
        if body is None:
            continue
        delivery = Delivery.objects.create(
            subscription=subscription,
            delivery_id=delivery_id,
            event_id=event.pk,
            kind=event.kind,
            payload=body,
        )
        _enqueue(delivery)


def _require_active(subscription: Subscription) -> None:
    if not subscription.active:
        raise Conflict(
            "The webhook is inactive; activate it to send deliveries.",
            fields={"active": "Inactive."},
        )


@transaction.atomic
def delivery_test(*, actor: Actor, subscription: Subscription) -> Delivery:
    """Queue a ``webhook.test`` delivery to this subscription only."""
    require_role(actor, *MANAGE_ROLES, action="send test events")
    _require_active(subscription)
    delivery_id = uuid.uuid4()
    delivery = Delivery.objects.create(
        subscription=subscription,
        delivery_id=delivery_id,
        kind="webhook.test",
        payload=payloads.test_payload(str(delivery_id), subscription.pk),
    )
    _enqueue(delivery)
    return delivery


@transaction.atomic
def delivery_redeliver(*, actor: Actor, delivery: Delivery) -> Delivery:
    """Send a delivery again as a new delivery (same body, new delivery id)."""
    require_role(actor, *MANAGE_ROLES, action="redeliver webhooks")
    _require_active(delivery.subscription)
    delivery_id = uuid.uuid4()
    body = dict(delivery.payload)
    body["id"] = str(delivery_id)
    again = Delivery.objects.create(
        subscription=delivery.subscription,
        delivery_id=delivery_id,
        event_id=delivery.event_id,
        kind=delivery.kind,
        payload=body,
        redelivery_of=delivery,
    )
    _enqueue(again)
    return again


# --- Sending -----------------------------------------------------------------------------


def _claim(delivery_id: int) -> Delivery | None:
    """Pending, due, unleased and its webhook active → leased to this worker; a
    pending delivery of an inactive webhook is cancelled instead."""
    now = timezone.now()
    claimed = leases.claim(
        Delivery.objects.filter(
            pk=delivery_id,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            subscription__active=True,
        ),
        lease_field="lease_until",
        lease=LEASE,
        now=now,
    )
    if not claimed:
        _cancel(Delivery.objects.filter(pk=delivery_id, subscription__active=False))
        return None
    return Delivery.objects.select_related("subscription").get(pk=delivery_id)


def delivery_attempt(delivery_pk: int) -> str:
    """POST a delivery once; record the attempt; succeed, schedule a retry, or fail."""
    delivery = _claim(delivery_pk)
    if delivery is None:
        return "skipped"
    subscription = delivery.subscription
    started = timezone.now()
    status_code, excerpt, error, duration = None, "", "", 0.0
    permanent = False
    try:
        response = outbound.post_json(
            subscription.url,
            delivery.payload,
            secret=subscription.secret,
            headers={
                "X-Registry-Delivery": str(delivery.delivery_id),
                "X-Registry-Event": delivery.kind,
            },
            timeout=settings.REGISTRY_WEBHOOK_TIMEOUT,
        )
        status_code, excerpt, duration = (
            response.status,
            response.body,
            response.duration_ms,
        )
    except outbound.OutboundRefused as exc:
        error, permanent = f"refused: {exc}", True
    except Exception as exc:  # connection refused, timeout, TLS: transport errors
        error = f"{type(exc).__name__}: {exc}"[:1000]
        duration = (timezone.now() - started).total_seconds() * 1000
    Attempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        status_code=status_code,
        response_excerpt=excerpt[:2000],
        error=error,
        duration_ms=duration,
        started_at=started,
    )
    if status_code is not None and 200 <= status_code < 300:
        _finish(delivery, DeliveryStatus.SUCCEEDED, status_code, "")
        return "succeeded"
    reason = error or f"the receiver answered {status_code}"
    return _retry_or_fail(delivery, status_code, reason, permanent)


def _finish(delivery: Delivery, status: str, code: int | None, error: str) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status,
        last_status_code=code,
        last_error=error[:2000],
        finished_at=timezone.now(),
        lease_until=None,
    )


def _retry_or_fail(
    delivery: Delivery, code: int | None, reason: str, permanent: bool
) -> str:
    delay = leases.backoff(delivery.attempts, base=settings.REGISTRY_WEBHOOK_BACKOFF)
    window_end = delivery.created_at + timedelta(
        seconds=settings.REGISTRY_WEBHOOK_RETRY_WINDOW
    )
    next_at = timezone.now() + timedelta(seconds=delay)
    if permanent or next_at > window_end:
        _finish(delivery, DeliveryStatus.FAILED, code, reason)
        return "failed"
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=next_at,
            lease_until=None,
            last_status_code=code,
            last_error=reason[:2000],
        )
        _enqueue(delivery, countdown=delay)
    return "retry"


def sweep() -> int:
    """Attempt every due pending delivery (lost doorbells, retries after a restart)."""
    now = timezone.now()
    due = Delivery.objects.filter(
        leases.free("lease_until", now),
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now - timedelta(seconds=2),
    ).values_list("pk", flat=True)[:200]
    return sum(delivery_attempt(pk) != "skipped" for pk in list(due))
