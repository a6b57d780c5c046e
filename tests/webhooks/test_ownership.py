"""Issue 10, defect 10: a webhook's URL and secret are its owner's (or an admin's)."""

from __future__ import annotations

from typing import Any

import pytest

from webhooks import services as hooks
from webhooks.models import Subscription

SECRET = "whsec-0123456789abcdef"
OTHER_SECRET = "attacker-secret-0123456789"


@pytest.fixture
def hook(deployer: Any, receiver: Any) -> Subscription:
    return hooks.subscription_create(
        actor=deployer, url=receiver.url, events=["*"], secret=SECRET
    )


@pytest.fixture
def elsewhere(receiver: Any) -> str:
    return receiver.url.rstrip("/") + "/elsewhere"


def _patch(client: Any, hook: Subscription, body: dict[str, Any]) -> Any:
    return client.patch(f"/api/v1/webhooks/{hook.pk}/", body, format="json")


@pytest.mark.parametrize(
    "change",
    [
        {"url": "elsewhere", "secret": OTHER_SECRET},
        {"url": "elsewhere"},
        {"secret": OTHER_SECRET},
    ],
)
def test_another_deployer_cannot_repoint_or_rekey_a_webhook(
    client_for, make_user, hook, elsewhere, change
):
    body = {k: elsewhere if v == "elsewhere" else v for k, v in change.items()}

    response = _patch(client_for(make_user("deployer")), hook, body)

    assert response.status_code == 403
    hook.refresh_from_db()
    assert (hook.url, hook.secret) != (elsewhere, OTHER_SECRET)
    assert hook.secret == SECRET


def test_another_deployer_may_still_change_what_is_sent(client_for, make_user, hook):
    response = _patch(
        client_for(make_user("deployer")), hook, {"events": ["version.approved"]}
    )

    assert response.status_code == 200
    hook.refresh_from_db()
    assert hook.events == ["version.approved"]


def test_a_new_url_needs_the_secret_set_again(client_for, deployer, hook, elsewhere):
    response = _patch(client_for(deployer), hook, {"url": elsewhere})

    assert response.status_code == 400
    assert "secret" in response.json()["error"]["fields"]
    hook.refresh_from_db()
    assert hook.url != elsewhere


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_the_owner_or_an_admin_repoints_it_with_a_new_secret(
    client_for, deployer, admin_user, hook, elsewhere, who
):
    client = client_for(deployer if who == "owner" else admin_user)

    response = _patch(client, hook, {"url": elsewhere, "secret": OTHER_SECRET})

    assert response.status_code == 200, response.content
    hook.refresh_from_db()
    assert (hook.url, hook.secret) == (elsewhere, OTHER_SECRET)
