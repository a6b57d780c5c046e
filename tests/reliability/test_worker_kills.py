"""Issue 16 drill: the worker is killed with SIGKILL during deployments, again and
again. Each deployment ends terminal within a minute of the worker's return (its short
lease runs out and the reconciler rings again), and the endpoint answers with an
Approved version throughout. 3 rounds here; 10 with REGISTRY_SLOW_TESTS=1."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from django.core.files.base import ContentFile

from approvals.services import review_submit
from catalog import services
from catalog.models import ApprovalStatus, ModelVersion
from deployments import services as deploy
from deployments import serving
from deployments.models import Deployment
from tests import models as real_models
from tests.helpers import SAMPLE, forget_check_ahead, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 10 if os.environ.get("REGISTRY_SLOW_TESTS") == "1" else 3
BACK_WITHIN = 60


def _register(contributor: Any, group: Any, content: bytes) -> ModelVersion:
    return services.version_register(
        actor=contributor,
        group=group,
        artifact=ContentFile(content, name="m.skops"),
        sample_payload={"inputs": SAMPLE},
    )


def _deployment(version: ModelVersion, status: str | None = None) -> Deployment | None:
    rows = Deployment.objects.filter(version=version)
    if status:
        rows = rows.filter(status=status)
    return rows.first()


def _serves_an_approved_version(client: Any) -> int:
    answer = client.post(
        "/api/v1/endpoints/iris-prod/invocations", {"inputs": SAMPLE}, format="json"
    )
    assert answer.status_code == 200, answer.content
    number = int(answer["X-Model-Version"])
    status = ModelVersion.objects.get(group__name="iris", version=number)
    assert status.approval_status == ApprovalStatus.APPROVED
    return number


def test_deployments_finish_through_repeated_worker_kills(
    worker: Any, contributor: Any, reviewer: Any, deployer: Any, client_for: Any
):
    serving.forget()
    group = services.group_create(actor=contributor, name="iris")
    deploy.endpoint_create(actor=deployer, name="iris-prod", group=group)
    content = real_models.slow_skops(trees=100)  # a second or two to load
    first = _register(contributor, group, content)
    review_submit(actor=reviewer, version=first, decision="approve", comment="ok")
    deployed = wait_for(
        lambda: (d := _deployment(first)) and d.is_terminal and d,
        timeout=90,
        message="the first deployment",
    )
    assert deployed.status == "Succeeded", deployed.error
    client = client_for(deployer)

    for round_ in range(ROUNDS):
        version = _register(contributor, group, content)
        # Its deployment must load the model itself, so that it can be killed doing so.
        forget_check_ahead(version)
        review_submit(actor=reviewer, version=version, decision="approve", comment="")
        wait_for(
            lambda v=version: _deployment(v, "Running"),
            timeout=30,
            interval=0.02,
            message=f"round {round_}: the deployment to run",
        )

        worker.kill()
        assert _serves_an_approved_version(client) < version.version
        worker.start()
        returned = time.monotonic()

        finished = wait_for(
            lambda v=version: (d := _deployment(v)) and d.is_terminal and d,
            timeout=BACK_WITHIN,
            message=f"round {round_}: the deployment to end after the worker's return",
        )
        assert time.monotonic() - returned <= BACK_WITHIN
        assert finished.status == "Succeeded", (finished.error, worker.log_tail())
        wait_for(
            lambda v=version: _serves_an_approved_version(client) == v.version,
            timeout=10,
            message=f"round {round_}: the endpoint to serve v{version.version}",
        )
