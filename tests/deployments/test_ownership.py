"""Issue 10, defect 10: an endpoint's webhook URL and secret are its owner's."""

from __future__ import annotations

from typing import Any

import pytest

from deployments import services as deploy
from deployments.models import Endpoint
from tests.receiver import Receiver

SECRET = "s3cret-webhook-key-0123456789"
OTHER_SECRET = "attacker-secret-0123456789"


@pytest.fixture
def receiver() -> Any:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def hook_endpoint(deployer: Any, iris_group: Any, receiver: Any) -> Endpoint:
    return deploy.endpoint_create(
        actor=deployer,
        name="ci-hook",
        group=iris_group,
        target="webhook",
        webhook_url=receiver.url,
        webhook_secret=SECRET,
    )


@pytest.fixture
def elsewhere(receiver: Any) -> str:
    return receiver.url.rstrip("/") + "/elsewhere"


def _patch(client: Any, body: dict[str, Any]) -> Any:
    return client.patch("/api/v1/endpoints/ci-hook/", body, format="json")


@pytest.mark.parametrize(
    "change",
    [
        {"webhook_url": "elsewhere", "webhook_secret": OTHER_SECRET},
        {"webhook_url": "elsewhere"},
        {"webhook_secret": OTHER_SECRET},
    ],
)
def test_another_deployer_cannot_repoint_or_rekey_an_endpoint(
    client_for, make_user, hook_endpoint, elsewhere, change
):
    body = {k: elsewhere if v == "elsewhere" else v for k, v in change.items()}

    response = _patch(client_for(make_user("deployer")), body)

    assert response.status_code == 403
    hook_endpoint.refresh_from_db()
    assert hook_endpoint.webhook_url != elsewhere
    assert hook_endpoint.webhook_secret == SECRET


def test_another_deployer_may_still_change_other_settings(
    client_for, make_user, hook_endpoint
):
    response = _patch(client_for(make_user("deployer")), {"auto_deploy": False})

    assert response.status_code == 200
    hook_endpoint.refresh_from_db()
    assert hook_endpoint.auto_deploy is False


def test_turning_a_builtin_endpoint_into_a_webhook_is_the_owners(
    client_for, make_user, endpoint, elsewhere
):
    response = client_for(make_user("deployer")).patch(
        f"/api/v1/endpoints/{endpoint.name}/",
        {"target": "webhook", "webhook_url": elsewhere, "webhook_secret": OTHER_SECRET},
        format="json",
    )

    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.target == "builtin"


def test_a_new_url_needs_the_secret_set_again(
    client_for, deployer, hook_endpoint, elsewhere
):
    response = _patch(client_for(deployer), {"webhook_url": elsewhere})

    assert response.status_code == 400
    assert "webhook_secret" in response.json()["error"]["fields"]


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_the_owner_or_an_admin_repoints_it_with_a_new_secret(
    client_for, deployer, admin_user, hook_endpoint, elsewhere, who
):
    client = client_for(deployer if who == "owner" else admin_user)

    response = _patch(
        client, {"webhook_url": elsewhere, "webhook_secret": OTHER_SECRET}
    )

    assert response.status_code == 200, response.content
    hook_endpoint.refresh_from_db()
    assert hook_endpoint.webhook_url == elsewhere
    assert hook_endpoint.webhook_secret == OTHER_SECRET
