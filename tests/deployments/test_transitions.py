"""Issue 11, item 5: every status change of a deployment goes through one
compare-and-set transition that writes one event and one log line; its log is
append-only rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from catalog.models import Event
from deployments import services as deploy
from deployments.models import Deployment, DeploymentLogLine, Endpoint
from deployments.services import transitions


@pytest.fixture
def queued(endpoint, register_version, approve, deployer) -> Deployment:
    approve(register_version())
    return deploy.deployment_request(
        actor=deployer, endpoint=endpoint, version_number=1
    )


@pytest.fixture
def running(queued: Deployment) -> Deployment:
    assert transitions.claim(queued)
    queued.refresh_from_db()
    return queued


def _events() -> list[Event]:
    return list(Event.objects.filter(kind__startswith="deployment.").order_by("id"))


def _lines(deployment: Deployment) -> int:
    return DeploymentLogLine.objects.filter(deployment=deployment).count()


def _expire(deployment: Deployment) -> Deployment:
    Deployment.objects.filter(pk=deployment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    deployment.refresh_from_db()
    return deployment


# (name, fixture giving the row, what to do, event kind, from, to)
TRANSITIONS: list[tuple[str, str, Callable[[Deployment], Any], str, str, str]] = [
    ("claim", "queued", transitions.claim, "deployment.running", "Queued", "Running"),
    (
        "take over",
        "running",
        lambda d: transitions.claim(_expire(d)),
        "deployment.running",
        "Running",
        "Running",
    ),
    (
        "succeed",
        "running",
        transitions.succeed,
        "deployment.succeeded",
        "Running",
        "Succeeded",
    ),
    (
        "fail",
        "running",
        lambda d: transitions.fail(d, "boom"),
        "deployment.failed",
        "Running",
        "Failed",
    ),
    (
        "retry",
        "running",
        lambda d: transitions.retry(d, "flaky"),
        "deployment.retrying",
        "Running",
        "Queued",
    ),
    (
        "supersede",
        "queued",
        lambda d: transitions.supersede_queued(d.endpoint, actor=None),
        "deployment.superseded",
        "Queued",
        "Superseded",
    ),
    (
        "cancel",
        "queued",
        lambda d: transitions.cancel_queued(d.version, error="rejected"),
        "deployment.cancelled",
        "Queued",
        "Cancelled",
    ),
]


@pytest.mark.parametrize(
    ("fixture", "act", "kind", "source", "target"),
    [case[1:] for case in TRANSITIONS],
    ids=[case[0] for case in TRANSITIONS],
)
def test_every_transition_writes_exactly_one_event_and_one_log_line(
    request, fixture, act, kind, source, target
):
    deployment = request.getfixturevalue(fixture)
    events, lines = _events(), _lines(deployment)

    assert act(deployment)

    new = _events()[len(events) :]
    assert [(e.kind, e.payload["from"], e.payload["to"]) for e in new] == [
        (kind, source, target)
    ]
    assert new[0].payload["deployment"] == deployment.pk
    assert _lines(deployment) == lines + 1
    deployment.refresh_from_db()
    assert deployment.status == target


def test_a_new_deployment_writes_one_queued_event_and_one_log_line(
    endpoint, register_version, approve, deployer
):
    approve(register_version())
    before = len(_events())

    deployment = deploy.deployment_request(
        actor=deployer, endpoint=endpoint, version_number=1
    )

    new = _events()[before:]
    assert [(e.kind, e.payload["from"], e.payload["to"]) for e in new] == [
        ("deployment.queued", None, "Queued")
    ]
    assert new[0].actor == deployer
    assert len(deployment.log) == 1
    assert "queued: deploy v1 (manual)" in deployment.log[0]


def _set(deployment: Deployment, status: str) -> Deployment:
    Deployment.objects.filter(pk=deployment.pk).update(status=status)
    deployment.refresh_from_db()
    return deployment


WRONG_STATE: list[tuple[str, str, Callable[[Deployment], bool]]] = [
    ("succeed a queued one", "Queued", transitions.succeed),
    ("fail a queued one", "Queued", lambda d: transitions.fail(d, "x")),
    ("retry a queued one", "Queued", lambda d: transitions.retry(d, "x")),
    ("claim a succeeded one", "Succeeded", transitions.claim),
    ("claim a cancelled one", "Cancelled", transitions.claim),
    ("fail a failed one", "Failed", lambda d: transitions.fail(d, "x")),
    (
        "supersede a running one",
        "Running",
        lambda d: transitions.transition(
            d, source="Queued", to="Superseded", note="superseded"
        ),
    ),
    (
        "cancel a succeeded one",
        "Succeeded",
        lambda d: transitions.transition(
            d, source="Queued", to="Cancelled", note="cancelled"
        ),
    ),
]


@pytest.mark.parametrize(
    ("status", "act"),
    [case[1:] for case in WRONG_STATE],
    ids=[case[0] for case in WRONG_STATE],
)
def test_a_transition_from_the_wrong_state_changes_nothing(queued, status, act):
    deployment = _set(queued, status)
    events, lines = len(_events()), _lines(deployment)

    assert not act(deployment)

    after = Deployment.objects.get(pk=deployment.pk)
    assert (after.status, after.attempts, after.finished_at) == (
        status,
        deployment.attempts,
        deployment.finished_at,
    )
    assert len(_events()) == events
    assert _lines(deployment) == lines


def test_a_worker_whose_lease_was_taken_over_changes_nothing(running):
    stale = Deployment.objects.get(pk=running.pk)
    assert transitions.claim(_expire(running))  # another worker takes over
    events = len(_events())

    assert not transitions.succeed(stale)
    assert not transitions.fail(stale, "late")

    running.refresh_from_db()
    assert running.status == "Running"
    assert running.attempts == 2
    assert len(_events()) == events
    assert Endpoint.objects.get(pk=running.endpoint_id).live_version is None


def test_two_claims_of_one_queued_deployment_make_one_running(queued):
    copy = Deployment.objects.get(pk=queued.pk)

    assert [transitions.claim(queued), transitions.claim(copy)] == [True, False]
    assert Event.objects.filter(kind="deployment.running").count() == 1


def test_the_log_refuses_updates_and_deletes(queued):
    line = DeploymentLogLine.objects.get(deployment=queued)

    line.text = "rewritten"
    with pytest.raises(PermissionError):
        line.save()
    with pytest.raises(PermissionError):
        line.delete()
    with pytest.raises(PermissionError):
        DeploymentLogLine.objects.filter(pk=line.pk).update(text="rewritten")
    with pytest.raises(PermissionError):
        DeploymentLogLine.objects.filter(pk=line.pk).delete()

    assert "rewritten" not in DeploymentLogLine.objects.get(pk=line.pk).text


def test_log_lines_are_added_in_order_and_read_as_text(running):
    transitions.fail(running, "boom")

    log = Deployment.objects.get(pk=running.pk).log
    assert [line.split(" ", 1)[1] for line in log] == [
        "queued: deploy v1 (manual)",
        "attempt 1: started",
        "failed: boom",
    ]


def test_the_api_shows_the_log_as_a_list_of_lines(running, client_for, viewer):
    transitions.fail(running, "boom")

    body = client_for(viewer).get(f"/api/v1/deployments/{running.pk}/").json()

    assert body["log"] == Deployment.objects.get(pk=running.pk).log
    assert body["log"][-1].endswith(" failed: boom")


def test_deleting_an_endpoint_takes_its_deployments_and_logs(
    running, deployer, endpoint
):
    deploy.endpoint_delete(actor=deployer, endpoint=endpoint)

    assert not DeploymentLogLine.objects.exists()


def test_the_reconciler_rings_the_doorbell_after_commit(
    queued, settings, django_capture_on_commit_callbacks
):
    Deployment.objects.filter(pk=queued.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks() as callbacks:
        counts = deploy.reconcile()

    assert counts["requeued"] == 1
    assert len(callbacks) == 1
