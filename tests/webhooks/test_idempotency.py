"""Webhook POSTs honour ``Idempotency-Key`` (issue 10, defect 7)."""

from __future__ import annotations

import pytest

from webhooks.models import Delivery, Subscription


@pytest.fixture
def hook(client_for, deployer, receiver):
    body = {"url": receiver.url, "events": ["version.registered"], "secret": "s" * 20}
    response = client_for(deployer).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def twice(client, path, body=None):
    first = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again["Idempotent-Replayed"] == "true"
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    return first


def test_a_retried_subscription_creates_one(client_for, deployer, receiver):
    body = {"url": receiver.url, "events": ["version.registered"], "secret": "s" * 20}

    assert twice(client_for(deployer), "/api/v1/webhooks/", body).status_code == 201
    assert Subscription.objects.count() == 1


def test_a_retried_test_event_sends_one(client_for, deployer, hook):
    first = twice(client_for(deployer), f"/api/v1/webhooks/{hook['id']}/test")

    assert first.status_code == 202
    assert Delivery.objects.count() == 1


def test_a_retried_redelivery_sends_one(client_for, deployer, hook):
    client = client_for(deployer)
    sent = client.post(f"/api/v1/webhooks/{hook['id']}/test").json()

    first = twice(
        client, f"/api/v1/webhooks/{hook['id']}/deliveries/{sent['id']}/redeliver"
    )

    assert first.status_code == 202
    assert Delivery.objects.count() == 2
