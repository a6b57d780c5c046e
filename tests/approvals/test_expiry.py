"""Approvals that expire (issue 15): a policy's ``approval_valid_days`` and
``on_expiry``. Time is advanced by passing ``now``, never slept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from approvals import selectors, services
from approvals.policies import verdict
from catalog import outbox
from catalog.models import Event
from tests.approvals.helpers import error_of, policy_url

pytestmark = pytest.mark.django_db
LATER = timedelta(days=31)


def expired_events(version):
    return Event.objects.filter(version=version, kind="version.approval_expired")


def approve(reviewer, version, comment="ok"):
    services.review_submit(
        actor=reviewer, version=version, decision="approve", comment=comment
    )
    version.refresh_from_db()
    return version


def test_an_approval_within_its_days_does_not_expire(set_policy, version, reviewer):
    set_policy(approval_valid_days=30, on_expiry="revoke")
    approve(reviewer, version)

    assert services.approvals_expire(now=timezone.now() + timedelta(days=29)) == 0
    version.refresh_from_db()
    assert version.approval_status == "Approved"
    assert not expired_events(version).exists()


def test_a_policy_without_days_never_expires(set_policy, version, reviewer):
    set_policy(required_approvals=1)
    approve(reviewer, version)

    assert services.approvals_expire(now=timezone.now() + timedelta(days=3650)) == 0
    assert verdict(version)["approval_expires_at"] is None


def test_notify_only_writes_one_event_and_keeps_the_approval(
    set_policy, version, reviewer
):
    set_policy(approval_valid_days=30, on_expiry="notify")
    approve(reviewer, version)
    expires = verdict(version)["approval_expires_at"]
    assert timedelta(days=30) - timedelta(seconds=5) < expires - timezone.now()

    assert services.approvals_expire(now=timezone.now() + LATER) == 1
    assert services.approvals_expire(now=timezone.now() + LATER) == 0  # told once

    version.refresh_from_db()
    assert version.approval_status == "Approved"
    event = expired_events(version).get()
    assert event.payload["on_expiry"] == "notify"
    assert event.payload["approval_valid_days"] == 30
    assert event.actor is None


def test_revoke_on_expiry_revokes_with_a_rejected_event(set_policy, version, reviewer):
    set_policy(approval_valid_days=30, on_expiry="revoke")
    approve(reviewer, version)

    assert services.approvals_expire(now=timezone.now() + LATER) == 1

    version.refresh_from_db()
    assert version.approval_status == "Rejected"
    rejected = Event.objects.get(version=version, kind="version.rejected")
    assert rejected.payload["revoked"] is True
    assert rejected.payload["expired"] is True
    assert rejected.payload["comment"] == "The approval expired after 30 days."
    assert expired_events(version).count() == 1


def test_recertification_restarts_the_clock(
    set_policy, version, reviewer, make_reviewer
):
    set_policy(approval_valid_days=30, on_expiry="revoke")
    approve(reviewer, version)
    first = verdict(version)["approval_expires_at"]

    outcome = services.review_submit(
        actor=make_reviewer(), version=version, decision="approve", comment="still ok"
    )

    assert outcome.created
    second = verdict(version)["approval_expires_at"]
    assert second > first
    assert (
        Event.objects.filter(version=version, kind="version.recertified").count() == 1
    )
    # after the first approval's term, within the re-certification's:
    assert services.approvals_expire(now=first + (second - first) / 2) == 0
    version.refresh_from_db()
    assert version.approval_status == "Approved"
    assert services.approvals_expire(now=second + timedelta(seconds=1)) == 1


def test_after_a_notified_expiry_recertification_can_expire_again(
    set_policy, version, reviewer
):
    set_policy(approval_valid_days=30, on_expiry="notify")
    approve(reviewer, version)
    assert services.approvals_expire(now=timezone.now() + LATER) == 1

    approve(reviewer, version, comment="re-certified")

    assert services.approvals_expire(now=timezone.now() + timedelta(days=29)) == 0
    assert services.approvals_expire(now=timezone.now() + LATER) == 1
    assert expired_events(version).count() == 2


def test_an_approved_version_is_not_reviewed_again_without_an_expiry(version, reviewer):
    approve(reviewer, version)

    outcome = services.review_submit(
        actor=reviewer, version=version, decision="approve", comment="again"
    )

    assert not outcome.created
    assert not Event.objects.filter(kind="version.recertified").exists()


def test_the_expiry_mail_goes_to_the_registrant_and_reviewers(
    set_policy, version, reviewer, owner, settings
):
    owner.email = "owner@example.com"
    owner.save()
    set_policy(approval_valid_days=30, on_expiry="revoke")
    approve(reviewer, version)
    services.approvals_expire(now=timezone.now() + LATER)
    mail.outbox.clear()

    outbox.dispatch(expired_events(version).get().pk)

    from approvals.models import Notification
    from approvals.notifications import send

    note = Notification.objects.get(kind="version.approval_expired")
    assert "owner@example.com" in note.recipients
    assert "expired and was revoked" in note.subject
    assert send(note.pk)
    assert mail.outbox[-1].subject == note.subject


def test_the_inbox_lists_what_expires_within_14_days(
    set_policy, make_version, reviewer, make_reviewer
):
    set_policy(approval_valid_days=20, on_expiry="notify")
    soon = approve(reviewer, make_version())
    now = timezone.now()

    assert [v for v, _ in selectors.expiring(reviewer, now=now)] == []
    in_ten_days = now + timedelta(days=10)
    found = selectors.expiring(reviewer, now=in_ten_days)
    assert [(v.pk, e.date()) for v, e in found] == [
        (soon.pk, (now + timedelta(days=20)).date())
    ]


def test_the_inbox_page_shows_expiring_approvals(
    set_policy, make_version, reviewer, client
):
    set_policy(approval_valid_days=10, on_expiry="revoke")
    approve(reviewer, make_version())
    client.force_login(reviewer)

    html = client.get("/reviews/").content.decode()

    assert 'data-testid="expiring-iris-1"' in html
    assert "revoke the approval on expiry" in html


def test_the_policy_api_sets_and_validates_expiry(iris, client_for, admin_user):
    api = client_for(admin_user)

    answer = api.patch(
        policy_url(), {"approval_valid_days": 90, "on_expiry": "revoke"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["approval_valid_days"] == 90
    assert answer.json()["on_expiry"] == "revoke"

    bad = api.patch(policy_url(), {"approval_valid_days": 0}, format="json")
    assert bad.status_code == 400
    assert "approval_valid_days" in error_of(bad)["fields"]
    bad = api.patch(policy_url(), {"on_expiry": "explode"}, format="json")
    assert bad.status_code == 400
    assert "on_expiry" in error_of(bad)["fields"]


def test_the_version_page_shows_the_expiry_and_a_recertify_button(
    set_policy, version, reviewer, make_reviewer, client
):
    set_policy(approval_valid_days=30, on_expiry="notify")
    approve(reviewer, version)
    other = make_reviewer()
    client.force_login(other)

    html = client.get("/models/iris/versions/1/").content.decode()

    assert 'data-testid="approval-expires"' in html
    assert 'value="approve" class="ok">Re-certify</button>' in html
    answer = client.post(
        "/models/iris/versions/1/review/",
        {"decision": "approve", "comment": "", "next": "/models/iris/versions/1/"},
    )
    assert answer.status_code == 302
    assert Event.objects.filter(version=version, kind="version.recertified").exists()
