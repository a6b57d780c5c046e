"""Issue 13: an endpoint's own Ray addresses are outbound calls like a webhook's:
checked when set and again when called (after DNS), so a deployer cannot point the
registry at a private or metadata address; the admin's configured cluster is trusted."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from common.errors import Invalid
from deployments import backends
from deployments import services as deploy
from deployments.models import Endpoint
from deployments.services import ray_target
from tests.helpers import SAMPLE
from tests.server import free_port
from tests.ui.helpers import served

pytestmark = pytest.mark.django_db

METADATA = "http://169.254.169.254/latest"
INSIDE = "http://10.1.2.3:8265"


@pytest.mark.parametrize("field", ["ray_dashboard_url", "ray_serve_url"])
def test_an_address_inside_the_network_is_refused_naming_the_field(
    deployer: Any, iris_group: Any, field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        deploy.endpoint_create(
            actor=deployer,
            name="ray-inside",
            group=iris_group,
            target="ray",
            **{field: METADATA},
        )

    assert field in caught.value.fields
    assert not Endpoint.objects.filter(name="ray-inside").exists()


def test_the_admins_configured_cluster_is_trusted(
    deployer: Any, iris_group: Any, settings: Any
) -> None:
    settings.REGISTRY_RAY_DASHBOARD_URL = INSIDE
    endpoint = deploy.endpoint_create(
        actor=deployer,
        name="ray-configured",
        group=iris_group,
        target="ray",
        ray_dashboard_url=INSIDE + "/",
    )

    assert ray_target.dashboard_url(endpoint) == INSIDE


def test_an_address_that_became_private_is_refused_when_called(
    deployer: Any,
    iris_group: Any,
    register_version: Any,
    client_for: Any,
) -> None:
    endpoint = deploy.endpoint_create(
        actor=deployer, name="ray-moved", group=iris_group, target="ray"
    )
    served(endpoint, register_version())
    # As if its DNS name now led inside (the check at configuration passed).
    Endpoint.objects.filter(pk=endpoint.pk).update(ray_serve_url=METADATA)
    endpoint.refresh_from_db()

    with pytest.raises(backends.PermanentError, match="refused"):
        ray_target.serve_url(endpoint)
    answer = client_for(deployer).post(
        "/api/v1/endpoints/ray-moved/invocations", {"inputs": SAMPLE}, format="json"
    )
    assert answer.status_code == 503
    assert "cannot be called" in answer.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_changes_of_one_clusters_applications_take_turns() -> None:
    """Serve's PUT replaces the whole list: two deployments' read-then-write of one
    cluster must not interleave (another cluster is not held up)."""
    address, spans, errors = "http://ray-head:8265", [], []

    def change(name: str, hold: float, where: str = address, wait: float = 10) -> None:
        try:
            with ray_target.cluster_lock(where, wait=wait):
                start = time.monotonic()
                time.sleep(hold)
                spans.append((name, start, time.monotonic()))
        except backends.TransientError as exc:
            errors.append((name, str(exc)))
        finally:
            connections.close_all()

    first = threading.Thread(target=change, args=("first", 0.6))
    first.start()
    time.sleep(0.2)
    others = [
        threading.Thread(target=change, args=("second", 0.1)),
        threading.Thread(target=change, args=("impatient", 0.1, address, 0.1)),
        threading.Thread(target=change, args=("elsewhere", 0.1, "http://other:8265")),
    ]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(timeout=30)

    by_name = {name: (start, end) for name, start, end in spans}
    assert by_name["second"][0] >= by_name["first"][1]
    assert by_name["elsewhere"][0] < by_name["first"][1]
    assert [name for name, _ in errors] == ["impatient"]
    assert "Another deployment" in errors[0][1]


def test_the_endpoint_page_says_when_its_cluster_does_not_answer(
    deployer: Any, iris_group: Any, settings: Any
) -> None:
    settings.REGISTRY_RAY_DASHBOARD_URL = f"http://127.0.0.1:{free_port()}"
    deploy.endpoint_create(
        actor=deployer,
        name="ray-down",
        group=iris_group,
        target="ray",
        ray_min_replicas=1,
        ray_max_replicas=3,
    )

    page = signed_in(deployer).get("/endpoints/ray-down/")

    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="ray-error"' in text
    assert "autoscaling 1 to 3" in text


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client
