"""The webhook (CI/CD) target against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog import outbox
from common import outbound
from deployments import services as deploy
from deployments.models import Deployment
from tests.receiver import Receiver

SECRET = "s3cret-webhook-key-0123456789"


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def hook_endpoint(deployer, iris_group, receiver):
    return deploy.endpoint_create(
        actor=deployer,
        name="ci-hook",
        group=iris_group,
        target="webhook",
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_timeout=60,
    )


@pytest.fixture
def waiting(hook_endpoint, register_version, approve):
    version = register_version()
    outbox.dispatch(approve(version).pk)
    deployment = Deployment.objects.get(endpoint=hook_endpoint)
    assert deploy.deployment_run(deployment.pk) == "waiting"
    deployment.refresh_from_db()
    return deployment


def test_the_request_is_signed_and_describes_the_version(waiting, receiver):
    (request,) = receiver.requests
    assert outbound.verify(
        SECRET,
        request.headers["X-Registry-Timestamp"],
        request.headers["X-Registry-Signature"],
        request.body,
    )
    body = json.loads(request.body)
    assert body["model_group"] == "iris"
    assert body["version"] == 1
    assert len(body["artifact"]["sha256"]) == 64
    assert body["deployment"]["status_url"].endswith(
        f"/deployments/{waiting.pk}/status"
    )
    assert waiting.status == "Running"


def test_a_tampered_or_old_signature_does_not_verify(waiting, receiver):
    (request,) = receiver.requests
    timestamp = request.headers["X-Registry-Timestamp"]
    signature = request.headers["X-Registry-Signature"]
    assert not outbound.verify(SECRET, timestamp, signature, request.body + b" ")
    assert not outbound.verify("wrong", timestamp, signature, request.body)
    old = str(int(timestamp) - 3600)
    assert not outbound.verify(
        SECRET, old, outbound.sign(SECRET, int(old), request.body), request.body
    )


def _callback(status: str, deployment_id: int, age: int = 0, scope: str = "") -> dict:
    """A status callback as the external system signs it, ``age`` seconds ago."""
    body = json.dumps({"status": status, "message": "rolled out"}).encode()
    timestamp = int(timezone.now().timestamp()) - age
    signature = outbound.sign(SECRET, timestamp, body, scope or str(deployment_id))
    return {
        "data": body,
        "content_type": "application/json",
        "HTTP_X_REGISTRY_TIMESTAMP": str(timestamp),
        "HTTP_X_REGISTRY_SIGNATURE": signature,
    }


def _report(client, deployment_id: int, callback: dict):
    return client.post(f"/api/v1/deployments/{deployment_id}/status", **callback)


def test_a_signed_status_callback_ends_the_deployment(waiting, client):
    response = _report(client, waiting.pk, _callback("Succeeded", waiting.pk))

    assert response.status_code == 200, response.content
    waiting.refresh_from_db()
    assert waiting.status == "Succeeded"
    assert waiting.endpoint.live_version_id == waiting.version_id


def test_a_callback_signed_for_another_deployment_is_refused(
    waiting, client, register_version, approve
):
    """Issue 10, defect 11: replaying deployment A's callback onto B of the same
    endpoint does not end B."""
    first = _callback("Failed", waiting.pk)
    assert _report(client, waiting.pk, first).status_code == 200
    outbox.dispatch(approve(register_version()).pk)
    second = Deployment.objects.filter(endpoint=waiting.endpoint).latest("id")
    assert deploy.deployment_run(second.pk) == "waiting"

    response = _report(client, second.pk, first)

    assert response.status_code == 403
    second.refresh_from_db()
    assert second.status == "Running"


@pytest.mark.parametrize(
    ("age", "scope"),
    [(360, ""), (-360, ""), (0, "unscoped")],  # a minute past the 300 s window
    ids=["too-old", "from-the-future", "without-the-deployment-id"],
)
def test_a_stale_or_unbound_callback_is_refused(waiting, client, age, scope):
    callback = _callback("Succeeded", waiting.pk, age=age)
    if scope == "unscoped":  # the signature of the body alone, as before
        timestamp = int(callback["HTTP_X_REGISTRY_TIMESTAMP"])
        callback["HTTP_X_REGISTRY_SIGNATURE"] = outbound.sign(
            SECRET, timestamp, callback["data"]
        )

    response = _report(client, waiting.pk, callback)

    assert response.status_code == 403
    waiting.refresh_from_db()
    assert waiting.status == "Running"


def test_an_unsigned_status_callback_is_refused(waiting, client):
    response = client.post(
        f"/api/v1/deployments/{waiting.pk}/status",
        {"status": "Succeeded"},
        content_type="application/json",
    )
    assert response.status_code == 403
    waiting.refresh_from_db()
    assert waiting.status == "Running"


def test_a_failure_callback_fails_it(waiting, client_for, deployer):
    from accounts.services import token_issue

    _, key = token_issue(user=deployer)
    response = client_for(None).post(
        f"/api/v1/deployments/{waiting.pk}/status",
        {"status": "Failed", "message": "canary errors"},
        format="json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert waiting.status == "Failed"
    assert "canary errors" in waiting.error


def test_no_callback_before_the_timeout_fails_the_deployment(waiting):
    Deployment.objects.filter(pk=waiting.pk).update(
        callback_deadline=timezone.now() - timedelta(seconds=1)
    )

    counts = deploy.reconcile()

    waiting.refresh_from_db()
    assert counts["timed_out"] == 1
    assert waiting.status == "Failed"
    assert "no status callback" in waiting.error


def test_a_receiver_answering_500_is_retried_then_fails(
    hook_endpoint, register_version, approve, receiver
):
    receiver.statuses = [500]
    version = register_version()
    outbox.dispatch(approve(version).pk)
    deployment = Deployment.objects.get(endpoint=hook_endpoint)

    outcomes = [deploy.deployment_run(deployment.pk) for _ in range(3)]

    deployment.refresh_from_db()
    assert outcomes == ["retry", "retry", "failed"]
    assert deployment.status == "Failed"
    assert len(receiver.requests) == 3
