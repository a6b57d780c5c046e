"""The endpoint page's settings form: a deployer changes auto-deploy and a ``ray``
endpoint's replicas, CPUs and cluster addresses; the service checks the values and
a refusal comes back next to the field it names, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.models import Event, EventKind
from deployments import services as deploy
from deployments.models import Endpoint

pytestmark = pytest.mark.django_db
FORM = 'action="/endpoints/{}/settings/"'


@pytest.fixture
def on_ray(deployer: Any, iris: Any, settings: Any) -> Endpoint:
    settings.REGISTRY_RAY_DASHBOARD_URL = "http://127.0.0.1:8265"
    settings.REGISTRY_RAY_SERVE_URL = "http://127.0.0.1:8000"
    return deploy.endpoint_create(
        actor=deployer, name="iris-ray", group=iris, target="ray"
    )


def _ray_form(**changed: Any) -> dict[str, Any]:
    values = {
        "auto_deploy": "on",
        "ray_num_replicas": "1",
        "ray_min_replicas": "1",
        "ray_max_replicas": "",
        "ray_num_cpus": "0.25",
        "ray_dashboard_url": "",
        "ray_serve_url": "",
    }
    values.update(changed)
    return {k: v for k, v in values.items() if v is not None}


def test_a_deployer_changes_a_ray_endpoints_replicas_and_cpus(
    browser_for: Any, deployer: Any, on_ray: Endpoint
) -> None:
    client = browser_for(deployer)
    page = client.get("/endpoints/iris-ray/").content.decode()
    assert FORM.format("iris-ray") in page
    assert 'name="ray_max_replicas"' in page
    assert 'placeholder="http://127.0.0.1:8265"' in page  # the cluster in use

    answer = client.post(
        "/endpoints/iris-ray/settings/",
        _ray_form(ray_min_replicas="2", ray_max_replicas="4", ray_num_cpus="0.5"),
        follow=True,
    )

    assert answer.status_code == 200
    text = answer.content.decode()
    assert "Saved: Autoscaling: at least, Autoscaling: at most, CPUs per replica." in (
        text
    )
    assert "autoscaling 2 to 4" in text  # the Ray card reads the new settings
    on_ray.refresh_from_db()
    assert (on_ray.ray_min_replicas, on_ray.ray_max_replicas) == (2, 4)
    assert on_ray.ray_num_cpus == 0.5
    event = Event.objects.filter(kind=EventKind.ENDPOINT_UPDATED).latest("id")
    assert event.payload["fields"] == [
        "ray_max_replicas",
        "ray_min_replicas",
        "ray_num_cpus",
    ]


def test_an_unchanged_form_changes_nothing(
    browser_for: Any, deployer: Any, on_ray: Endpoint
) -> None:
    before = Event.objects.count()
    answer = browser_for(deployer).post(
        "/endpoints/iris-ray/settings/", _ray_form(), follow=True
    )
    assert "Nothing was changed." in answer.content.decode()
    assert Event.objects.count() == before


@pytest.mark.parametrize(
    ("changed", "field", "message"),
    [
        ({"ray_min_replicas": "5", "ray_max_replicas": "3"}, "ray_max_replicas", "100"),
        ({"ray_num_replicas": "0"}, "ray_num_replicas", "Between 1 and 100."),
        ({"ray_num_cpus": "65"}, "ray_num_cpus", "at most 64"),
        ({"ray_num_cpus": "lots"}, "ray_num_cpus", "Enter a number."),
        (
            {"ray_dashboard_url": "http://169.254.169.254/"},
            "ray_dashboard_url",
            "169.254.169.254",
        ),
        ({"ray_serve_url": "ftp://ray.example/"}, "ray_serve_url", "URL"),
    ],
)
def test_a_refused_value_comes_back_on_its_field_and_changes_nothing(
    browser_for: Any,
    deployer: Any,
    on_ray: Endpoint,
    changed: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = Endpoint.objects.values().get(pk=on_ray.pk)

    answer = browser_for(deployer).post(
        "/endpoints/iris-ray/settings/", _ray_form(**changed)
    )

    assert answer.status_code == 400
    text = answer.content.decode()
    around = text.split(f'name="{field}"')[1].split('<div class="field')[0]
    assert 'class="field-error"' in around, around
    assert message in around, around
    after = Endpoint.objects.values().get(pk=on_ray.pk)
    before.pop("updated_at"), after.pop("updated_at")
    assert after == before
    # The card still shows what is stored, not the refused values.
    assert "Replicas</dt><dd>1," in text


def test_a_builtin_endpoint_offers_auto_deploy_only(
    browser_for: Any, deployer: Any, endpoint: Endpoint
) -> None:
    client = browser_for(deployer)
    page = client.get("/endpoints/iris-prod/").content.decode()
    assert 'name="auto_deploy"' in page
    assert 'name="ray_num_replicas"' not in page

    # Unchecked: the box is absent from the form; Ray fields sent are ignored.
    answer = client.post(
        "/endpoints/iris-prod/settings/", {"ray_num_replicas": "7"}, follow=True
    )

    assert (
        "Saved: Auto-deploy: each version once it is approved."
        in answer.content.decode()
    )
    endpoint.refresh_from_db()
    assert endpoint.auto_deploy is False
    assert endpoint.ray_num_replicas == 1


@pytest.mark.parametrize("role", ["viewer", "contributor", "reviewer"])
def test_only_deployers_see_and_use_the_settings(
    browser_for: Any, persona: Any, on_ray: Endpoint, role: str
) -> None:
    client = browser_for(persona(role))
    assert (
        FORM.format("iris-ray")
        not in client.get("/endpoints/iris-ray/").content.decode()
    )

    answer = client.post("/endpoints/iris-ray/settings/", _ray_form(ray_num_cpus="2"))

    assert answer.status_code == 403
    on_ray.refresh_from_db()
    assert on_ray.ray_num_cpus == 0.25


def test_the_settings_of_an_unknown_endpoint_are_a_404(
    browser_for: Any, deployer: Any
) -> None:
    answer = browser_for(deployer).post("/endpoints/nope/settings/", _ray_form())
    assert answer.status_code == 404
