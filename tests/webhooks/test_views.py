"""The webhook pages: the delivery log in the browser."""

from __future__ import annotations

import pytest

from tests.receiver import Receiver
from webhooks import services as hooks
from webhooks.models import Delivery

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def receiver():
    server = Receiver(statuses=[500, 200]).start()
    yield server
    server.stop()


@pytest.fixture
def hook(make_user, receiver):
    deployer = make_user("deployer")
    subscription = hooks.subscription_create(
        actor=deployer, url=receiver.url, events=["*"], secret=SECRET
    )
    return deployer, subscription


def test_deployers_see_each_delivery_attempt(client, hook, settings):
    settings.REGISTRY_WEBHOOK_BACKOFF = 0
    deployer, subscription = hook
    delivery = hooks.delivery_test(actor=deployer, subscription=subscription)
    hooks.delivery_attempt(delivery.pk)
    hooks.delivery_attempt(delivery.pk)
    client.force_login(deployer)

    listing = client.get("/webhooks/")
    detail = client.get(f"/webhooks/{subscription.pk}/")

    assert listing.status_code == 200
    assert subscription.url in listing.content.decode()
    page = detail.content.decode()
    assert "HTTP 500" in page and "HTTP 200" in page
    assert "2 attempts" in page


@pytest.mark.parametrize("role", ["viewer", "contributor", "reviewer"])
def test_other_roles_are_refused(client, make_user, hook, role):
    client.force_login(make_user(role))
    assert client.get("/webhooks/").status_code == 403
    assert client.get(f"/webhooks/{hook[1].pk}/").status_code == 403
    assert client.post(f"/webhooks/{hook[1].pk}/test/").status_code == 403


def test_test_and_redeliver_buttons_queue_deliveries(client, hook):
    deployer, subscription = hook
    client.force_login(deployer)

    assert client.post(f"/webhooks/{subscription.pk}/test/").status_code == 302
    first = Delivery.objects.get()
    response = client.post(
        f"/webhooks/{subscription.pk}/deliveries/{first.pk}/redeliver/"
    )

    assert response.status_code == 302
    assert Delivery.objects.filter(redelivery_of=first).count() == 1


def test_the_delivery_log_costs_the_same_queries_for_more_rows(
    client, hook, django_assert_max_num_queries
):
    deployer, subscription = hook
    for _ in range(20):
        hooks.delivery_test(actor=deployer, subscription=subscription)
    client.force_login(deployer)

    with django_assert_max_num_queries(12):
        assert client.get(f"/webhooks/{subscription.pk}/").status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client, hook):
    response = client.get("/webhooks/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
