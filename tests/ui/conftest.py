"""Web UI fixtures: a signed-in browser client per persona, and a small real catalog.

Versions that pages only display are inserted in bulk (``add_versions``); those that
are reviewed, deployed or served are registered through the services with a real
ONNX model (``iris``).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from approvals.services import review_submit
from catalog import services as catalog_services
from catalog.models import Metric, ModelGroup, ModelVersion
from deployments import services as deploy
from deployments import serving
from deployments.models import (
    Deployment,
    DeploymentLogLine,
    DeploymentStatus,
    Endpoint,
)
from tests import models as real_models

SAMPLE = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
ROLES = ("viewer", "contributor", "reviewer", "deployer", "admin")
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_serving() -> Any:
    serving.forget()
    yield
    serving.forget()


@pytest.fixture
def deployer(make_user: Callable[..., Any]) -> Any:
    return make_user("deployer")


@pytest.fixture
def norole(make_user: Callable[..., Any]) -> Any:
    return make_user()


@pytest.fixture
def persona(make_user: Callable[..., Any]) -> Callable[[str], Any]:
    """A user holding ``role`` ("none" for a signed-in user without a role)."""

    def make(role: str) -> Any:
        return make_user() if role == "none" else make_user(role)

    return make


@pytest.fixture
def browser_for() -> Callable[[Any], Client]:
    """A Django test client signed in as ``user`` (anonymous for None)."""

    def make(user: Any | None, **kwargs: Any) -> Client:
        client = Client(**kwargs)
        if user is not None:
            client.force_login(user)
        return client

    return make


def register(actor: Any, group: ModelGroup, **fields: Any) -> ModelVersion:
    """Register a real ONNX iris model through the catalog service."""
    fields.setdefault("sample_payload", {"inputs": SAMPLE})
    fields.setdefault("metrics", {"accuracy": 0.9, "f1": 0.88})
    return catalog_services.version_register(
        actor=actor,
        group=group,
        artifact=ContentFile(real_models.iris_onnx(), name="iris.onnx"),
        **fields,
    )


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


def served(endpoint: Endpoint, version: ModelVersion, **fields: Any) -> Deployment:
    """A finished deployment row, as the worker leaves it, and the endpoint pointer."""
    now = timezone.now()
    log = fields.pop(
        "log", [f"{now.isoformat()} endpoint now serves v{version.version}"]
    )
    deployment = Deployment.objects.create(
        endpoint=endpoint,
        version=version,
        reason=fields.pop("reason", "approval"),
        status=fields.pop("status", DeploymentStatus.SUCCEEDED),
        started_at=now,
        finished_at=now,
        **fields,
    )
    DeploymentLogLine.objects.bulk_create(
        DeploymentLogLine(deployment=deployment, text=text) for text in log
    )
    if deployment.status == DeploymentStatus.SUCCEEDED:
        Endpoint.objects.filter(pk=endpoint.pk).update(
            live_version=version, live_since=now
        )
        endpoint.refresh_from_db()
    return deployment


def add_versions(
    group: ModelGroup, count: int, *, by: Any, metrics: dict | None = None
) -> list[ModelVersion]:
    """``count`` more versions of ``group`` inserted in bulk (pages only display them)."""
    start = group.versions.count() + 1
    sha = hashlib.sha256(b"bulk").hexdigest()
    rows = ModelVersion.objects.bulk_create(
        ModelVersion(
            group=group,
            version=number,
            description=f"bulk v{number}",
            registration_status="Ready",
            artifact_key=f"bulk/{group.pk}/{number}",
            artifact_sha256=sha,
            artifact_size=1000,
            artifact_format="onnx",
            metrics=metrics or {"accuracy": 0.5 + number / 1000, "f1": 0.7},
            tags={"stage": "dev"},
            created_by=by,
        )
        for number in range(start, start + count)
    )
    # Metric rows carry their group where the model has that column (a copy of
    # the version's group that makes per-group metric filters one index range).
    grouped = "group" in {f.name for f in Metric._meta.get_fields()}
    Metric.objects.bulk_create(
        Metric(
            version=v, name=name, value=value, **({"group": group} if grouped else {})
        )
        for v in rows
        for name, value in v.metrics.items()
    )
    ModelGroup.objects.filter(pk=group.pk).update(next_version=start + count)
    return rows


def add_groups(count: int, *, by: Any, versions: int = 1) -> list[ModelGroup]:
    groups = ModelGroup.objects.bulk_create(
        ModelGroup(
            name=f"bulk-{next(_numbers)}",
            description="bulk group",
            tags={"team": "bulk"},
            created_by=by,
        )
        for _ in range(count)
    )
    for group in groups:
        add_versions(group, versions, by=by)
    return groups


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Keep each phase's report on the test, so fixtures can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
