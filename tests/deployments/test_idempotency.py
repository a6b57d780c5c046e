"""Manual deploys and rollbacks honour ``Idempotency-Key`` (issue 10, defect 7)."""

from __future__ import annotations

import pytest

from deployments import services as deploy
from deployments.models import Deployment, Endpoint

ROLLBACK = "/api/v1/endpoints/iris-prod/rollback"


@pytest.fixture
def two_served(endpoint, register_version, approve_and_deploy):
    """v1 then v2 served on iris-prod; v2 is live."""
    first, second = register_version(), register_version()
    approve_and_deploy(first)
    approve_and_deploy(second)
    return first, second


def test_a_retried_rollback_does_not_roll_forward_again(
    two_served, client_for, deployer
):
    first, _ = two_served
    client = client_for(deployer)
    rolled = client.post(ROLLBACK, HTTP_IDEMPOTENCY_KEY="rollback-7")
    assert rolled.status_code == 202, rolled.content
    deploy.deployment_run(rolled.json()["id"])
    deployments = Deployment.objects.count()

    again = client.post(ROLLBACK, HTTP_IDEMPOTENCY_KEY="rollback-7")

    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == rolled.json()
    assert Deployment.objects.count() == deployments
    assert Endpoint.objects.get(name="iris-prod").live_version == first


def test_a_retried_manual_deploy_queues_one(two_served, client_for, deployer):
    client = client_for(deployer)
    path = "/api/v1/endpoints/iris-prod/deployments/"
    deployments = Deployment.objects.count()

    first = client.post(path, {"version": 1}, format="json", HTTP_IDEMPOTENCY_KEY="d")
    again = client.post(path, {"version": 1}, format="json", HTTP_IDEMPOTENCY_KEY="d")

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert Deployment.objects.count() == deployments + 1
