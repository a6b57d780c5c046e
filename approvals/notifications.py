"""E-mails about reviews: rows written from outbox events, sent by Celery after commit.

A mail server that is down delays a notification (with backoff) and never fails the
review that caused it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from approvals.models import Notification, NotificationStatus
from approvals.policies import policy_for
from catalog.models import (
    REVIEW_REQUEST_KINDS,
    VERSION_STATUS_KINDS,
    Event,
    EventKind,
    ModelVersion,
    RegistrationStatus,
)
from common import doorbell, leases

log = logging.getLogger(__name__)
KINDS = VERSION_STATUS_KINDS | {
    EventKind.VERSION_CHECKED,
    EventKind.VERSION_APPROVAL_EXPIRED,
}
LEASE = timedelta(minutes=2)  # held in next_attempt_at while a worker sends
BACKOFF = 60  # seconds after the first failed attempt, doubled after each one


def eligible_reviewers(version: ModelVersion) -> list[Any]:
    """Users who may review ``version`` (and are not barred from approving it)."""
    policy = policy_for(version.group)
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    admins = Q(groups__name=Role.ADMIN) | Q(is_superuser=True)
    reviewers = get_user_model().objects.filter(groups__name=Role.REVIEWER)
    if policy.reviewers_id:
        # A separate join: the reviewer role and the policy's group are different rows.
        reviewers = reviewers.filter(groups=policy.reviewers_id)
    users = users.filter(admins | Q(pk__in=reviewers.values("pk"))).distinct()
    if not policy.allow_self_approval:
        users = users.exclude(pk=version.created_by_id)
    return list(users)


def version_link(version: ModelVersion) -> str:
    """The version's page as an absolute URL: a mail is read outside the site."""
    path = reverse(
        "catalog:version",
        kwargs={"group": version.group.name, "number": version.version},
    )
    return f"{settings.REGISTRY_PUBLIC_URL}{path}"


def _message(event: Event, version: ModelVersion) -> tuple[list[str], str, str] | None:
    label = f"{version.group.name} v{version.version}"
    if event.kind in REVIEW_REQUEST_KINDS:
        if event.payload.get("registration_status") == RegistrationStatus.PENDING:
            return None  # its check is deferred: asked for when the check passes
        recipients = [u.email for u in eligible_reviewers(version)]
        verb = (
            "resubmitted"
            if event.kind == EventKind.VERSION_RESUBMITTED
            else "registered"
        )
        subject = f"[Model Registry] {label} awaits your review"
        body = (
            f"{event.actor_name} {verb} {label}.\n\n{version.description}\n\n"
            f"Review it at {version_link(version)}\n"
        )
        return recipients, subject, body
    if event.kind == EventKind.VERSION_APPROVAL_EXPIRED:
        return _expired(event, version, label)
    registrant = version.created_by
    if not registrant.email:
        return None
    decision = "approved" if event.kind == EventKind.VERSION_APPROVED else "rejected"
    comment = event.payload.get("comment") or ""
    subject = f"[Model Registry] {label} was {decision}"
    body = (
        f"{event.actor_name} {decision} {label}.\n\n{comment}\n\n"
        f"See it at {version_link(version)}\n"
    )
    return [registrant.email], subject, body


def _expired(
    event: Event, version: ModelVersion, label: str
) -> tuple[list[str], str, str]:
    """To the registrant and the reviewers: re-certify (notify) or resubmit (revoke)."""
    people = [version.created_by, *eligible_reviewers(version)]
    recipients = list(dict.fromkeys(u.email for u in people if u.email))
    days = event.payload.get("approval_valid_days")
    if event.payload.get("on_expiry") == "revoke":
        subject = f"[Model Registry] {label}'s approval expired and was revoked"
        then = "It was revoked; endpoints that served it roll back."
    else:
        subject = f"[Model Registry] {label}'s approval expired"
        then = "It stays Approved until a reviewer re-certifies it with a new approval."
    body = (
        f"The approval of {label} expired after {days} days.\n{then}\n\n"
        f"See it at {version_link(version)}\n"
    )
    return recipients, subject, body


def on_event(event: Event) -> None:
    """Outbox handler: write the notification row; the send happens after commit."""
    version = (
        ModelVersion.objects.select_related("group", "created_by")
        .filter(pk=event.version_id or 0)
        .first()
    )
    if version is None:
        return
    message = _message(event, version)
    if message is None or not message[0]:
        return
    recipients, subject, body = message
    notification = Notification.objects.create(
        kind=event.kind,
        event_id=event.pk,
        recipients=recipients,
        subject=subject,
        body=body,
    )
    from approvals.tasks import send_notification_task

    pk = notification.pk
    doorbell.ring_after_commit(send_notification_task, pk)


def send(notification_id: int) -> bool:
    """Claim and send one notification; True if it was sent now."""
    now = timezone.now()
    claimed = leases.claim(
        Notification.objects.filter(
            pk=notification_id, status=NotificationStatus.PENDING
        ),
        lease_field="next_attempt_at",
        lease=LEASE,
        now=now,
    )
    if not claimed:
        return False
    notification = Notification.objects.get(pk=notification_id)
    try:
        send_mail(
            notification.subject,
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            notification.recipients,
            fail_silently=False,
        )
    except Exception as exc:  # any transport error: record it and back off
        attempts = notification.attempts
        failed = attempts >= Notification.MAX_ATTEMPTS
        Notification.objects.filter(pk=notification_id).update(
            status=NotificationStatus.FAILED if failed else NotificationStatus.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now
            + timedelta(seconds=leases.backoff(attempts, base=BACKOFF)),
        )
        log.warning(
            "notification %s failed (attempt %s): %s", notification_id, attempts, exc
        )
        return False
    Notification.objects.filter(pk=notification_id).update(
        status=NotificationStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def sweep() -> int:
    """Send every pending notification that is due (missed doorbells, retries)."""
    due = Notification.objects.filter(
        leases.free("next_attempt_at", timezone.now()),
        status=NotificationStatus.PENDING,
    )
    return sum(send(pk) for pk in due.values_list("pk", flat=True)[:200])
