"""Invariant 2 under concurrency: racing reviewers cause exactly one transition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from approvals import services
from approvals.models import Review
from catalog.models import Event, ModelVersion
from tests.approvals.helpers import APPROVED, approve, status_of
from tests.concurrency import run_at_once


def _run_concurrently(jobs: list[Callable[[], Any]]) -> list[BaseException]:
    return run_at_once(jobs)


def _approval(reviewer: Any, version_id: int) -> Callable[[], Any]:
    def job() -> Any:
        version = ModelVersion.objects.select_related("group").get(pk=version_id)
        return services.review_submit(
            actor=reviewer, version=version, decision="approve"
        )

    return job


def _transitions(version: ModelVersion) -> tuple[int, int]:
    return (
        Event.objects.filter(kind="version.approved", version=version).count(),
        Review.objects.filter(version=version, status_after=APPROVED).count(),
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_by_many_reviewers_approve_exactly_once(
    version, make_reviewer
):
    count = 32 if connection.vendor == "postgresql" else 8
    reviewers = [make_reviewer() for _ in range(count)]

    errors = _run_concurrently([_approval(r, version.pk) for r in reviewers])

    assert errors == []
    assert status_of(version) == APPROVED
    assert _transitions(version) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_racing_on_the_last_approval_approve_exactly_once(
    make_version, make_reviewer, set_policy
):
    set_policy(required_approvals=2)
    versions = [make_version() for _ in range(4)]
    jobs = []
    for version in versions:
        approve(make_reviewer(), version)
        jobs += [_approval(make_reviewer(), version.pk) for _ in range(2)]

    errors = _run_concurrently(jobs)

    assert errors == []
    assert [status_of(v) for v in versions] == [APPROVED] * 4
    assert [_transitions(v) for v in versions] == [(1, 1)] * 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_that_together_reach_the_quorum_lose_no_vote(
    version, make_reviewer, set_policy
):
    count = 8
    set_policy(required_approvals=count)
    reviewers = [make_reviewer() for _ in range(count)]

    errors = _run_concurrently([_approval(r, version.pk) for r in reviewers])

    assert errors == []
    assert status_of(version) == APPROVED
    assert _transitions(version) == (1, 1)
    assert Review.objects.filter(version=version, decision="approve").count() == count
