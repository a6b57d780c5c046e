"""common.leases: the backoff and claim-with-lease shared by notifications,
webhook deliveries and deployments (shown here on a notification row)."""

from __future__ import annotations

import ast
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from approvals.models import Notification, NotificationStatus
from common import leases

pytestmark = pytest.mark.django_db
LEASE = timedelta(minutes=2)


@pytest.fixture
def row() -> Notification:
    # Failed: the real worker's sweep (running in transactional tests) leaves it be.
    return Notification.objects.create(
        kind="test", subject="s", body="b", status=NotificationStatus.FAILED
    )


def _claim(row: Notification, now=None) -> int:
    return leases.claim(
        Notification.objects.filter(pk=row.pk),
        lease_field="next_attempt_at",
        lease=LEASE,
        now=now,
    )


def test_backoff_starts_at_the_base_and_doubles():
    assert [leases.backoff(n, base=30) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_backoff_before_any_attempt_is_the_base():
    assert leases.backoff(0, base=2) == 2


def test_a_claim_counts_the_attempt_and_sets_the_lease(row):
    now = timezone.now()

    assert _claim(row, now) == 1

    row.refresh_from_db()
    assert row.attempts == 1
    assert row.next_attempt_at == now + LEASE


def test_a_leased_row_is_not_claimed_again(row):
    _claim(row)

    assert _claim(row) == 0
    row.refresh_from_db()
    assert row.attempts == 1


def test_a_row_whose_lease_ran_out_is_claimed_again(row):
    _claim(row)

    assert _claim(row, timezone.now() + LEASE + timedelta(seconds=1)) == 1
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_claim_applies_the_callers_changes(row):
    leases.claim(
        Notification.objects.filter(pk=row.pk),
        lease_field="next_attempt_at",
        lease=LEASE,
        last_error="claimed",
    )

    row.refresh_from_db()
    assert row.last_error == "claimed"


def test_the_helper_module_imports_no_app():
    tree = ast.parse(Path(leases.__file__).read_text())
    imported = {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported <= {
        "__future__",
        "collections",
        "contextlib",
        "datetime",
        "django",
        "logging",
        "threading",
        "typing",
    }


SHORT = timedelta(seconds=0.6)  # renewed every 0.2 s


def _held_by_renewal(rows, seconds: float):
    with leases.renewed(rows, lease_field="next_attempt_at", lease=SHORT):
        time.sleep(seconds)
        return Notification.objects.get().next_attempt_at


@pytest.mark.django_db(transaction=True)
def test_a_renewed_short_lease_outlasts_long_work(row):
    rows = Notification.objects.filter(pk=row.pk)
    leases.claim(rows, lease_field="next_attempt_at", lease=SHORT)

    held_until = _held_by_renewal(rows, 3 * SHORT.total_seconds())

    assert held_until > timezone.now()


@pytest.mark.django_db(transaction=True)
def test_a_lease_is_not_renewed_after_the_work_ends(row):
    rows = Notification.objects.filter(pk=row.pk)
    leases.claim(rows, lease_field="next_attempt_at", lease=SHORT)
    _held_by_renewal(rows, 0.5)

    time.sleep(2 * SHORT.total_seconds())

    assert rows.get().next_attempt_at < timezone.now()


@pytest.mark.django_db(transaction=True)
def test_a_row_that_is_no_longer_ours_is_left_alone(row):
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    not_ours = Notification.objects.filter(pk=row.pk, attempts=99)

    _held_by_renewal(not_ours, 3 * SHORT.total_seconds())

    assert Notification.objects.get(pk=row.pk).next_attempt_at < timezone.now()


def test_inside_the_callers_transaction_nothing_is_renewed(row):
    rows = Notification.objects.filter(pk=row.pk)
    before = rows.get().next_attempt_at

    assert _held_by_renewal(rows, 0.5) == before
