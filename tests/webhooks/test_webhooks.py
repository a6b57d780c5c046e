"""Webhooks against a real HTTP receiver on loopback."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from catalog import outbox, services
from catalog.models import Event
from common import outbound
from tests import models as real_models
from tests.helpers import wait_for
from tests.receiver import Receiver
from webhooks import services as hooks
from webhooks.models import Delivery

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def fast_retries(settings):
    settings.REGISTRY_WEBHOOK_BACKOFF = 0


def subscribe(client, url, **extra):
    body = {
        "url": url,
        "events": ["version.registered", "version.approved"],
        "secret": SECRET,
        **extra,
    }
    return client.post("/api/v1/webhooks/", body, format="json")


def register_one(contributor, name="iris"):
    group = services.group_create(actor=contributor, name=name)
    services.version_register(
        actor=contributor,
        group=group,
        artifact=ContentFile(real_models.iris_onnx(), name="m.onnx"),
    )
    return Event.objects.get(kind="version.registered", group_name=name)


def deliver_all() -> list[str]:
    return [
        hooks.delivery_attempt(pk)
        for pk in Delivery.objects.order_by("id").values_list("pk", flat=True)
    ]


def test_a_delivery_is_signed_and_carries_its_id(
    client_for, deployer, contributor, receiver
):
    assert subscribe(client_for(deployer), receiver.url).status_code == 201
    outbox.dispatch(register_one(contributor).pk)

    assert deliver_all() == ["succeeded"]

    (request,) = receiver.requests
    assert outbound.verify(
        SECRET,
        request.headers["X-Registry-Timestamp"],
        request.headers["X-Registry-Signature"],
        request.body,
    )
    delivery = Delivery.objects.get()
    assert request.headers["X-Registry-Delivery"] == str(delivery.delivery_id)
    body = json.loads(request.body)
    assert body["type"] == "version.registered"
    assert body["event"]["model_group"] == "iris"


def test_a_receiver_answering_500_twice_then_200_gets_three_attempts(
    client_for, deployer, contributor, receiver, fast_retries
):
    receiver.statuses = [500, 500, 200]
    subscribe(client_for(deployer), receiver.url)
    outbox.dispatch(register_one(contributor).pk)
    delivery = Delivery.objects.get()

    outcomes = [hooks.delivery_attempt(delivery.pk) for _ in range(3)]

    assert outcomes == ["retry", "retry", "succeeded"]
    log = (
        client_for(deployer)
        .get(f"/api/v1/webhooks/{delivery.subscription_id}/deliveries/")
        .json()["results"][0]
    )
    assert log["status"] == "succeeded"
    assert [a["status_code"] for a in log["attempt_log"]] == [500, 500, 200]
    assert all(a["duration_ms"] >= 0 for a in log["attempt_log"])


def test_retries_back_off_exponentially(
    client_for, deployer, contributor, receiver, settings
):
    settings.REGISTRY_WEBHOOK_BACKOFF = 10
    receiver.statuses = [503]
    subscribe(client_for(deployer), receiver.url)
    outbox.dispatch(register_one(contributor).pk)
    delivery = Delivery.objects.get()

    assert hooks.delivery_attempt(delivery.pk) == "retry"
    first_wait = Delivery.objects.get().next_attempt_at - delivery.created_at
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    assert hooks.delivery_attempt(delivery.pk) == "retry"
    second = Delivery.objects.get()

    assert 9 <= first_wait.total_seconds() <= 12
    assert (second.next_attempt_at - second.created_at).total_seconds() >= 19


def test_a_receiver_down_for_the_whole_window_fails_and_can_be_redelivered(
    client_for, deployer, contributor, settings, fast_retries
):
    settings.REGISTRY_WEBHOOK_RETRY_WINDOW = 1
    down = Receiver().start()
    url = down.url
    down.stop()  # nothing listens there any more
    subscribe(client_for(deployer), url)
    outbox.dispatch(register_one(contributor).pk)
    delivery = Delivery.objects.get()

    outcome = wait_for(
        lambda: (
            hooks.delivery_attempt(delivery.pk) == "failed"
            or Delivery.objects.get().status == "failed"
        ),
        timeout=10,
        message="the retry window to close",
    )
    assert outcome
    failed = Delivery.objects.get()
    assert failed.status == "failed"
    assert "Connection" in failed.last_error or "refused" in failed.last_error.lower()

    back = Receiver().start()
    try:
        from webhooks.models import Subscription

        Subscription.objects.update(url=back.url)
        again = client_for(deployer).post(
            f"/api/v1/webhooks/{failed.subscription_id}/deliveries/{failed.pk}/redeliver"
        )
        assert again.status_code == 202
        assert hooks.delivery_attempt(again.json()["id"]) == "succeeded"
        assert json.loads(back.requests[0].body)["event"]["model_group"] == "iris"
    finally:
        back.stop()


def test_a_test_event_reaches_only_that_subscription(client_for, deployer, receiver):
    hook = subscribe(client_for(deployer), receiver.url).json()

    response = client_for(deployer).post(f"/api/v1/webhooks/{hook['id']}/test")

    assert response.status_code == 202
    assert hooks.delivery_attempt(response.json()["id"]) == "succeeded"
    assert json.loads(receiver.requests[0].body)["type"] == "webhook.test"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "file:///etc/passwd",
    ],
)
def test_a_subscription_to_a_private_address_is_refused(
    client_for, deployer, settings, url
):
    settings.REGISTRY_OUTBOUND_ALLOW = []

    response = subscribe(client_for(deployer), url)

    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"]


def test_an_address_that_becomes_private_is_refused_at_send_time(
    client_for, deployer, contributor, receiver, settings
):
    subscribe(client_for(deployer), receiver.url)
    outbox.dispatch(register_one(contributor).pk)
    settings.REGISTRY_OUTBOUND_ALLOW = []

    assert deliver_all() == ["failed"]
    assert "refused" in Delivery.objects.get().last_error
    assert receiver.requests == []


def test_the_sagemaker_format_matches_model_package_state_change(
    client_for, deployer, contributor, receiver
):
    subscribe(client_for(deployer), receiver.url, payload_format="sagemaker")
    outbox.dispatch(register_one(contributor).pk)

    deliver_all()

    body = json.loads(receiver.requests[0].body)
    assert body["detail-type"] == "SageMaker Model Package State Change"
    assert body["source"] == "aws.sagemaker"
    detail = body["detail"]
    assert detail["ModelPackageGroupName"] == "iris"
    assert detail["ModelPackageVersion"] == 1
    assert detail["ModelApprovalStatus"] == "PendingManualApproval"
    assert body["resources"] == [detail["ModelPackageArn"]]


def test_group_filter_and_event_kinds_select_deliveries(
    client_for, deployer, contributor, receiver
):
    register_one(contributor, "other")
    subscribe(
        client_for(deployer),
        receiver.url,
        model_group="other",
        events=["version.approved"],
    )
    outbox.dispatch(Event.objects.get(kind="version.registered").pk)

    assert not Delivery.objects.exists()


def test_webhooks_are_managed_by_deployers_only(client_for, make_user, receiver):
    for role in ["viewer", "contributor", "reviewer"]:
        client = client_for(make_user(role))
        assert subscribe(client, receiver.url).status_code == 403
        assert client.get("/api/v1/webhooks/").status_code == 403


def test_bad_subscriptions_name_the_field(client_for, deployer, receiver):
    client = client_for(deployer)
    assert (
        "events"
        in subscribe(client, receiver.url, events=["nope"]).json()["error"]["fields"]
    )
    short = client.post(
        "/api/v1/webhooks/",
        {"url": receiver.url, "events": ["*"], "secret": "short"},
        format="json",
    )
    assert "secret" in short.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_a_registration(
    worker, client_for, deployer, contributor, receiver
):
    subscribe(client_for(deployer), receiver.url)

    register_one(contributor)

    wait_for(lambda: receiver.requests, timeout=30, message="the webhook delivery")
    delivery = wait_for(
        lambda: Delivery.objects.filter(status="succeeded").first(),
        timeout=10,
        message="the delivery to be recorded",
    )
    assert delivery.attempts == 1


def test_the_documented_receiver_accepts_a_real_delivery(
    client_for, deployer, contributor, receiver, monkeypatch
):
    import importlib.util
    from pathlib import Path

    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    path = Path(__file__).parents[2] / "docs" / "ci" / "webhook_receiver.py"
    spec = importlib.util.spec_from_file_location("webhook_receiver", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    subscribe(client_for(deployer), receiver.url)
    outbox.dispatch(register_one(contributor).pk)
    deliver_all()

    (request,) = receiver.requests
    headers = request.headers
    assert example.verify(
        headers["X-Registry-Timestamp"], headers["X-Registry-Signature"], request.body
    )
    assert not example.verify(
        headers["X-Registry-Timestamp"],
        headers["X-Registry-Signature"],
        request.body + b"x",
    )
