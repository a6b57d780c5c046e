"""Web UI fixtures: a signed-in browser client per persona, and a small real catalog.

Versions that pages only display are inserted in bulk (``add_versions`` in
``helpers.py``); those that
are reviewed, deployed or served are registered through the services with a real
ONNX model (``iris``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from approvals.services import review_submit
from catalog import services as catalog_services
from catalog.models import ModelGroup, ModelVersion
from deployments import services as deploy
from deployments import serving
from deployments.models import Endpoint
from tests.ui.helpers import register


@pytest.fixture(autouse=True)
def _fresh_serving() -> Any:
    serving.forget()
    yield
    serving.forget()


@pytest.fixture
def browser_for() -> Callable[[Any], Client]:
    """A Django test client signed in as ``user`` (anonymous for None)."""

    def make(user: Any | None, **kwargs: Any) -> Client:
        client = Client(**kwargs)
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def iris(contributor: Any) -> ModelGroup:
    return catalog_services.group_create(
        actor=contributor, name="iris", description="Iris flowers", tags={"team": "ml"}
    )


@pytest.fixture
def v1(contributor: Any, iris: ModelGroup) -> ModelVersion:
    return register(
        contributor,
        iris,
        description="first",
        model_card="# Card\n\nTrained on **iris**.",
        hyperparameters={"C": 0.1},
        lineage={"commit": "abc1234"},
        customer_metadata={"owner": "ml-team"},
        tags={"stage": "dev"},
    )


@pytest.fixture
def v2(contributor: Any, iris: ModelGroup, v1: ModelVersion) -> ModelVersion:
    return register(
        contributor,
        iris,
        description="second",
        metrics={"accuracy": 0.95, "f1": 0.88},
        hyperparameters={"C": 1.0},
    )


@pytest.fixture
def endpoint(deployer: Any, iris: ModelGroup) -> Endpoint:
    return deploy.endpoint_create(actor=deployer, name="iris-prod", group=iris)


@pytest.fixture
def approve() -> Callable[..., ModelVersion]:
    """Approve through the approvals service (no deployment runs: no commit here)."""

    def do(version: ModelVersion, reviewer: Any) -> ModelVersion:
        review_submit(actor=reviewer, version=version, decision="approve", comment="ok")
        version.refresh_from_db()
        return version

    return do


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Keep each phase's report on the test, so fixtures can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
