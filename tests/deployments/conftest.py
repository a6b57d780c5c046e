from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile

from accounts.authentication import InvocationTokenAuthentication
from approvals.services import review_submit
from catalog import outbox, services
from catalog.models import Event, ModelGroup, ModelVersion
from deployments import services as deploy
from deployments import serving
from deployments.models import Deployment, Endpoint
from tests import models as real_models
from tests.helpers import SAMPLE, wait_for


@pytest.fixture(autouse=True)
def _fresh_serving() -> Any:
    serving.forget()
    InvocationTokenAuthentication.forget()
    yield
    serving.forget()


@pytest.fixture
def iris_group(contributor: Any) -> ModelGroup:
    return services.group_create(actor=contributor, name="iris")


@pytest.fixture
def register_version(
    contributor: Any, iris_group: ModelGroup
) -> Callable[..., ModelVersion]:
    def register(content: bytes | None = None, **fields: Any) -> ModelVersion:
        fields.setdefault("sample_payload", {"inputs": SAMPLE})
        return services.version_register(
            actor=contributor,
            group=iris_group,
            artifact=ContentFile(content or real_models.iris_onnx(), name="iris.onnx"),
            **fields,
        )

    return register


@pytest.fixture
def endpoint(deployer: Any, iris_group: ModelGroup) -> Endpoint:
    return deploy.endpoint_create(actor=deployer, name="iris-prod", group=iris_group)


@pytest.fixture
def approve(reviewer: Any) -> Callable[[ModelVersion], Event]:
    """Approve through the approvals service; returns the version.approved event."""

    def do(version: ModelVersion) -> Event:
        review_submit(actor=reviewer, version=version, decision="approve", comment="ok")
        return Event.objects.filter(
            kind="version.approved", version_id=version.pk
        ).get()

    return do


@pytest.fixture
def approve_and_deploy(
    approve: Callable[[ModelVersion], Event],
) -> Callable[..., Deployment]:
    """Approve, dispatch the event as the outbox would, and run the deployment here."""

    def do(version: ModelVersion) -> Deployment:
        event = approve(version)
        outbox.dispatch(event.pk)
        deployment = Deployment.objects.filter(version=version).latest("id")
        deploy.deployment_run(deployment.pk)
        # In a transactional test the session's real worker (if one runs) sees the
        # approval too and may hold the deployment: wait for it to end either way.
        wait_for(
            lambda: Deployment.objects.get(pk=deployment.pk).is_terminal,
            timeout=60,
            message=f"deployment {deployment.pk} to end",
        )
        deployment.refresh_from_db()
        return deployment

    return do
