"""Issue 16: a deactivated or deleted webhook stops delivering at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile

from catalog import outbox, services
from catalog.models import Event
from tests import models as real_models
from webhooks import services as hooks
from webhooks.models import Delivery, Subscription

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def hook(deployer: Any, receiver: Any) -> Subscription:
    return hooks.subscription_create(
        actor=deployer, url=receiver.url, events=["*"], secret=SECRET
    )


@pytest.fixture
def pending(hook: Subscription, contributor: Any) -> list[Delivery]:
    """Three events waiting to be delivered to ``hook``."""
    group = services.group_create(actor=contributor, name="iris")
    for _ in range(2):
        services.version_register(
            actor=contributor,
            group=group,
            artifact=ContentFile(real_models.iris_onnx(), name="m.onnx"),
        )
    for event in Event.objects.exclude(kind__startswith="webhook.").order_by("id"):
        outbox.dispatch(event.pk)
    return list(Delivery.objects.filter(subscription=hook))


def test_deactivating_cancels_pending_deliveries(
    client_for, deployer, hook, pending, receiver
):
    assert len(pending) == 3
    response = client_for(deployer).patch(
        f"/api/v1/webhooks/{hook.pk}/", {"active": False}, format="json"
    )

    outcomes = [hooks.delivery_attempt(d.pk) for d in pending] + [hooks.sweep()]

    assert response.status_code == 200
    assert outcomes == ["skipped", "skipped", "skipped", 0]
    assert receiver.requests == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {"cancelled"}


def test_a_delivery_queued_as_it_was_deactivated_is_cancelled_not_sent(
    deployer, hook, pending, receiver
):
    """A delivery written by a handler that still saw the webhook active."""
    Subscription.objects.filter(pk=hook.pk).update(active=False)

    assert hooks.delivery_attempt(pending[0].pk) == "skipped"
    assert hooks.sweep() == 0

    assert receiver.requests == []
    assert Delivery.objects.get(pk=pending[0].pk).status == "cancelled"


def test_an_inactive_webhook_takes_no_test_or_redelivery(
    client_for, deployer, hook, pending
):
    client = client_for(deployer)
    client.patch(f"/api/v1/webhooks/{hook.pk}/", {"active": False}, format="json")

    test = client.post(f"/api/v1/webhooks/{hook.pk}/test")
    again = client.post(
        f"/api/v1/webhooks/{hook.pk}/deliveries/{pending[0].pk}/redeliver"
    )

    assert (test.status_code, again.status_code) == (409, 409)


def test_deleting_a_webhook_whose_event_was_redelivered_works(
    client_for, deployer, hook, pending, receiver
):
    client = client_for(deployer)
    for delivery in pending:
        assert hooks.delivery_attempt(delivery.pk) == "succeeded"
    again = client.post(
        f"/api/v1/webhooks/{hook.pk}/deliveries/{pending[0].pk}/redeliver"
    ).json()
    client.post(f"/api/v1/webhooks/{hook.pk}/deliveries/{again['id']}/redeliver")

    response = client.delete(f"/api/v1/webhooks/{hook.pk}/")

    assert response.status_code == 204, response.content
    assert not Subscription.objects.exists()
    assert not Delivery.objects.exists()


def test_deleting_a_webhook_stops_its_pending_deliveries(
    client_for, deployer, hook, pending, receiver
):
    assert (
        client_for(deployer).delete(f"/api/v1/webhooks/{hook.pk}/").status_code == 204
    )

    assert [hooks.delivery_attempt(d.pk) for d in pending] == ["skipped"] * 3
    assert receiver.requests == []
