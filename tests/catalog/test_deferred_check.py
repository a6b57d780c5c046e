"""Issue 16: heavy checks off the request. An artifact over REGISTRY_INLINE_CHECK_MAX
is only identified while the client waits; its version is registered Pending, and a
worker checks the whole file: Ready, or Failed with the reason. Approval waits for
Ready; the review request goes out once the check passed."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import Notification
from approvals.services import review_submit
from catalog import services
from catalog.models import Event, ModelVersion
from common.errors import Conflict, Invalid
from tests import models as real_models
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_inline(settings):
    settings.REGISTRY_INLINE_CHECK_MAX = 64  # every real model is checked later


def _broken_onnx() -> bytes:
    """Starts like ONNX (so it is identified as ONNX) but is cut in half."""
    content = real_models.iris_onnx()
    return content[: len(content) // 2]


def _kinds(version: ModelVersion) -> list[str]:
    return list(
        Event.objects.filter(version_id=version.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    )


def test_a_small_artifact_is_checked_inline_and_ready_at_once(make_group, make_version):
    version = make_version(make_group("iris"))

    assert version.registration_status == "Ready"
    assert _kinds(version) == ["version.registered"]


def test_a_large_artifact_is_registered_pending_then_checked_ready(
    small_inline, make_group, make_version
):
    version = make_version(make_group("iris"))
    assert version.registration_status == "Pending"

    assert services.version_check(version.pk) == "ready"

    version.refresh_from_db()
    assert (version.registration_status, version.registration_error) == ("Ready", "")
    assert version.artifact_format == "onnx"
    assert _kinds(version) == ["version.registered", "version.checked"]


def test_a_large_artifact_that_fails_its_check_is_failed_with_the_reason(
    small_inline, make_group, make_version
):
    version = make_version(make_group("iris"), _broken_onnx())

    assert services.version_check(version.pk) == "failed"

    version.refresh_from_db()
    assert version.registration_status == "Failed"
    assert "Not a valid ONNX model" in version.registration_error
    assert _kinds(version) == ["version.registered", "version.check_failed"]


def test_untrusted_pickle_is_refused_at_once_whatever_its_size(
    small_inline, make_group, make_version
):
    with pytest.raises(Invalid) as refused:
        make_version(make_group("iris"), pickle.dumps(b"x" * 5000, protocol=4))

    assert "pickle" in refused.value.message
    assert ModelVersion.objects.count() == 0


def test_a_pending_or_failed_version_cannot_be_approved(
    small_inline, make_group, make_version, reviewer
):
    group = make_group("iris")
    pending = make_version(group)
    failed = make_version(group, _broken_onnx())
    services.version_check(failed.pk)

    with pytest.raises(Conflict, match="still being checked"):
        review_submit(actor=reviewer, version=pending, decision="approve")
    with pytest.raises(Conflict, match="failed its artifact check"):
        review_submit(actor=reviewer, version=failed, decision="approve")

    services.version_check(pending.pk)
    outcome = review_submit(actor=reviewer, version=pending, decision="approve")
    assert outcome.version.approval_status == "Approved"


def test_the_api_answers_409_naming_the_wait(
    small_inline, make_group, make_version, client_for, reviewer
):
    version = make_version(make_group("iris"))
    api = client_for(reviewer)

    answer = api.post(
        "/api/v1/model-groups/iris/versions/1/reviews/",
        {"decision": "approve"},
        format="json",
    )
    shown = api.get("/api/v1/model-groups/iris/versions/1/").json()

    assert answer.status_code == 409
    assert "still being checked" in answer.json()["error"]["message"]
    assert shown["registration_status"] == "Pending"
    assert (
        ModelVersion.objects.get(pk=version.pk).approval_status
        == "PendingManualApproval"
    )


def test_a_check_is_claimed_once(small_inline, make_group, make_version):
    version = make_version(make_group("iris"))
    ModelVersion.objects.filter(pk=version.pk).update(
        check_attempts=1, check_lease_expires_at=timezone.now() + timedelta(minutes=1)
    )

    assert services.version_check(version.pk) == "skipped"


def test_a_check_whose_worker_died_is_taken_over_and_given_up_after_three_tries(
    small_inline, make_group, make_version
):
    version = make_version(make_group("iris"))
    ModelVersion.objects.filter(pk=version.pk).update(
        check_attempts=3, check_lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert services.version_check(version.pk) == "failed"

    version.refresh_from_db()
    assert version.registration_status == "Failed"
    assert "did not finish in 3 tries" in version.registration_error


def test_the_sweep_rings_again_only_for_checks_nobody_holds(
    small_inline, make_group, make_version
):
    group = make_group("iris")
    lost, held, _fresh = (make_version(group) for _ in range(3))
    old = timezone.now() - timedelta(minutes=5)
    ModelVersion.objects.filter(pk__in=[lost.pk, held.pk]).update(created_at=old)
    ModelVersion.objects.filter(pk=held.pk).update(
        check_lease_expires_at=timezone.now() + timedelta(minutes=1)
    )

    assert services.checks_sweep() == 1


def test_reviewers_are_asked_once_the_check_passed(
    small_inline, make_group, make_version, reviewer
):
    from approvals import notifications

    reviewer.email = "rita@example.com"
    reviewer.save()
    version = make_version(make_group("iris"))
    registered = Event.objects.get(version_id=version.pk, kind="version.registered")
    notifications.on_event(registered)
    assert Notification.objects.count() == 0

    services.version_check(version.pk)
    checked = Event.objects.get(version_id=version.pk, kind="version.checked")
    notifications.on_event(checked)

    assert list(Notification.objects.values_list("recipients", flat=True)) == [
        ["rita@example.com"]
    ]


@pytest.mark.django_db(transaction=True)
def test_the_real_worker_checks_a_large_artifact(
    small_inline, worker, make_group, make_version
):
    version = make_version(make_group("iris"))

    checked = wait_for(
        lambda: ModelVersion.objects.filter(
            pk=version.pk, registration_status="Ready"
        ).first(),
        timeout=60,
        message="the worker to check the artifact",
    )

    assert checked.check_attempts == 1
