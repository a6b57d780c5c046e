"""Issue 13: every kind of endpoint target is one ``DeployTarget`` (plan, apply,
status, where/remove), and the deployment run and endpoint changes go through that
table only. The targets themselves are tested end to end elsewhere (built-in:
test_worker.py, webhook: tests/webhooks, Ray: test_ray_target.py)."""

from __future__ import annotations

import inspect

import pytest

from catalog import outbox
from deployments.models import Deployment, Target
from deployments.services import targets

pytestmark = pytest.mark.django_db


def test_every_kind_of_target_has_one_and_the_same_interface():
    assert set(targets.TARGETS) == set(Target.values)
    wanted = {
        name
        for name, _ in inspect.getmembers(targets.DeployTarget, inspect.isfunction)
        if not name.startswith("_")
    }
    assert wanted == {"plan", "apply", "status", "where", "remove"}
    for kind, target in targets.TARGETS.items():
        for name in wanted:
            mine = inspect.signature(getattr(target, name))
            theirs = inspect.signature(getattr(targets.DeployTarget, name))
            assert list(mine.parameters) == list(theirs.parameters)[1:], (kind, name)


def test_plans_say_what_each_target_will_run(
    endpoint, register_version, approve, deployer, iris_group, settings
):
    from deployments import services as deploy

    settings.REGISTRY_RAY_DASHBOARD_URL = "http://127.0.0.1:8265"
    version = register_version()
    outbox.dispatch(approve(version).pk)
    deployment = Deployment.objects.get(version=version, endpoint=endpoint)

    builtin = targets.of(endpoint).plan(deployment, version)
    assert builtin == {
        "version": version.version,
        "sha256": version.artifact_sha256,
        "format": "onnx",
    }
    assert targets.where(endpoint) == ""

    on_ray = deploy.endpoint_create(
        actor=deployer, name="iris-ray", group=iris_group, target="ray"
    )
    deployment.endpoint = on_ray
    config = targets.of(on_ray).plan(deployment, version)
    assert config["name"] == f"iris-ray-v{version.version}"
    assert config["args"]["sha256"] == version.artifact_sha256
    assert targets.where(on_ray) == "http://127.0.0.1:8265"
