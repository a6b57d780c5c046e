"""E-mails about reviews, and the outbox that turns events into them (invariant 3)."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from approvals import notifications
from approvals.models import Notification
from catalog import outbox
from catalog.models import Event, HandledEvent
from tests.approvals.helpers import (
    APPROVED,
    approve,
    deliver,
    events,
    post_review,
    reject,
    resubmit,
    status_of,
)

BROKEN = "tests.approvals.mail.BrokenBackend"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["raising-backend", "smtp-at-a-closed-port"])
def mail_down(request, settings) -> None:
    """The mail server is down, seen through either transport."""
    if request.param == "raising-backend":
        settings.EMAIL_BACKEND = BROKEN
        return
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
    settings.EMAIL_TIMEOUT = 2


def _lost_event(version, kind: str = "version.registered") -> Event:
    """An event written without ringing the doorbell, old enough for the sweep."""
    return Event.objects.create(
        kind=kind,
        group=version.group,
        group_name=version.group.name,
        version=version,
        version_number=version.version,
        created_at=timezone.now() - 2 * outbox.SWEEP_GRACE,
    )


# --- a mail server that is down -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failing_mail_server_does_not_undo_the_approval(
    mail_down, version, make_reviewer, client_for
):
    """Real commits: the approval is committed before any mail is tried."""
    response = post_review(client_for(make_reviewer()), version, "approve")

    notification = deliver("version.approved", version)

    assert response.status_code == 201
    assert status_of(version) == APPROVED
    assert (notification.status, notification.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in notification.last_error
    assert notification.next_attempt_at > timezone.now()


def test_a_failed_notification_waits_before_the_next_attempt(
    settings, version, make_reviewer
):
    settings.EMAIL_BACKEND = BROKEN
    approve(make_reviewer(), version)
    deliver("version.approved", version)

    assert notifications.sweep() == 0
    assert Notification.objects.get().attempts == 1


def test_the_sweep_sends_a_delayed_notification_once_mail_works_again(
    settings, version, make_reviewer, owner, mailoutbox
):
    settings.EMAIL_BACKEND = BROKEN
    approve(make_reviewer(), version)
    notification = deliver("version.approved", version)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Notification.objects.filter(pk=notification.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    assert notifications.sweep() == 1

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 2)
    assert notification.last_error == ""
    assert [m.to for m in mailoutbox] == [[owner.email]]


def test_it_gives_up_after_the_last_attempt(settings, version, make_reviewer):
    settings.EMAIL_BACKEND = BROKEN
    approve(make_reviewer(), version)
    outbox.dispatch(events("version.approved", version)[0].pk)
    Notification.objects.update(attempts=Notification.MAX_ATTEMPTS - 1)

    assert notifications.send(Notification.objects.get().pk) is False

    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("failed", 5)


def test_a_sent_notification_is_not_sent_again(version, make_reviewer, mailoutbox):
    approve(make_reviewer(), version)
    notification = deliver("version.approved", version)

    assert notifications.send(notification.pk) is False
    assert len(mailoutbox) == 1


# --- who gets mail ------------------------------------------------------------------


def test_reviewers_get_mail_when_a_version_is_registered(
    make_reviewer, make_user, make_version, mailoutbox
):
    reviewers = {make_reviewer().email, make_reviewer().email}
    make_user("viewer", email="viewer@example.com")
    make_user("reviewer", email="")

    notification = deliver("version.registered", make_version())

    assert notification.status == "sent"
    (message,) = mailoutbox
    assert set(message.to) == reviewers
    assert message.subject == "[Model Registry] iris v1 awaits your review"


def test_the_registrant_is_not_asked_to_review_their_own_version(
    make_reviewer, make_user, make_version, mailoutbox
):
    other = make_reviewer()
    registrant = make_reviewer("contributor")

    deliver("version.registered", make_version(actor=registrant))

    assert mailoutbox[0].to == [other.email]


def test_reviewers_get_mail_when_a_version_is_resubmitted(
    version, make_reviewer, contributor, mailoutbox
):
    reviewer = make_reviewer()
    reject(reviewer, version)
    resubmit(contributor, version, "Retrained on fresh data.")

    deliver("version.resubmitted", version)

    assert mailoutbox[0].to == [reviewer.email]
    assert "resubmitted iris v1" in mailoutbox[0].body


def test_only_the_policys_reviewer_group_gets_mail_about_its_versions(
    make_reviewer, set_policy, make_version
):
    member = make_reviewer()
    member.groups.add(Group.objects.create(name="fraud-team"))
    make_reviewer()
    set_policy(reviewers="fraud-team")
    version = make_version()

    outbox.dispatch(events("version.registered", version)[0].pk)

    assert list(Notification.objects.values_list("recipients", flat=True)) == [
        [member.email]
    ]


@pytest.mark.parametrize(
    ("decision", "kind", "word"),
    [
        ("approve", "version.approved", "approved"),
        ("reject", "version.rejected", "rejected"),
    ],
)
def test_the_registrant_gets_mail_about_the_decision(
    decision, kind, word, version, make_reviewer, owner, mailoutbox, client_for
):
    post_review(client_for(make_reviewer()), version, decision, "Looked at the AUC.")

    deliver(kind, version)

    (message,) = mailoutbox
    assert message.to == [owner.email]
    assert message.subject == f"[Model Registry] iris v1 was {word}"
    assert "Looked at the AUC." in message.body


def test_a_registrant_without_an_address_gets_no_mail(
    make_user, make_version, make_reviewer
):
    version = make_version(actor=make_user("contributor"))
    approve(make_reviewer(), version)

    outbox.dispatch(events("version.approved", version)[0].pk)

    assert not Notification.objects.exists()


# --- the outbox ----------------------------------------------------------------------


def test_a_transition_rings_the_doorbell_after_commit(
    version, make_reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        approve(make_reviewer(), version)

    assert len(callbacks) >= 1  # one doorbell per event (the review and the status)
    assert Notification.objects.count() == 0


def test_dispatching_the_same_event_twice_handles_it_once(version, make_reviewer):
    make_reviewer()
    (event,) = events("version.registered", version)

    assert outbox.dispatch(event.pk) >= 1
    assert outbox.dispatch(event.pk) == 0
    assert Notification.objects.filter(event_id=event.pk).count() == 1
    handled = HandledEvent.objects.filter(event_id=event.pk)
    assert handled.filter(consumer="approvals.notifications").count() == 1


def test_the_sweep_handles_an_event_whose_doorbell_was_lost(version, make_reviewer):
    reviewer = make_reviewer()
    lost = _lost_event(version)

    assert outbox.sweep() >= 1

    notification = Notification.objects.get(event_id=lost.pk)
    assert notification.recipients == [reviewer.email]


def test_the_sweep_leaves_a_fresh_event_to_its_doorbell(version, make_reviewer):
    make_reviewer()

    assert outbox.sweep() == 0
    assert not Notification.objects.exists()


def test_the_sweep_skips_an_event_already_handled(version, make_reviewer):
    make_reviewer()
    lost = _lost_event(version)
    outbox.dispatch(lost.pk)

    assert outbox.sweep() == 0
    assert Notification.objects.count() == 1


def test_the_notification_sweep_sends_a_row_whose_doorbell_was_lost(
    version, make_reviewer, mailoutbox
):
    reviewer = make_reviewer()
    outbox.dispatch(events("version.registered", version)[0].pk)

    assert notifications.sweep() == 1
    assert mailoutbox[0].to == [reviewer.email]


# --- links (issue 10) ----------------------------------------------------------------


@pytest.fixture
def public_url(settings) -> str:
    settings.REGISTRY_PUBLIC_URL = "https://registry.example.com"
    return settings.REGISTRY_PUBLIC_URL


def test_the_review_request_links_to_the_version_with_an_absolute_url(
    public_url, version, make_reviewer, mailoutbox
):
    make_reviewer()

    deliver("version.registered", version)

    assert f"{public_url}/models/iris/versions/1/" in mailoutbox[0].body


def test_the_decision_mail_links_to_the_version_with_an_absolute_url(
    public_url, version, make_reviewer, mailoutbox, client_for
):
    post_review(client_for(make_reviewer()), version, "approve", "Fine.")

    deliver("version.approved", version)

    assert f"{public_url}/models/iris/versions/1/" in mailoutbox[0].body
