"""Deployments run by calling the service the task calls (no worker needed)."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import Event
from catalog.services import artifact_storage
from common.errors import Conflict
from deployments import services as deploy
from deployments.models import Deployment, Endpoint
from tests import models as real_models
from tests.helpers import SAMPLE


def test_approval_creates_a_deployment_that_makes_the_version_live(
    endpoint, register_version, approve_and_deploy
):
    version = register_version()

    deployment = approve_and_deploy(version)

    assert deployment.status == "Succeeded", deployment.error
    assert deployment.reason == "approval"
    endpoint.refresh_from_db()
    assert endpoint.live_version == version
    assert any("warm-up" in line for line in deployment.log)


def test_a_corrupted_artifact_fails_and_the_live_version_keeps_serving(
    endpoint, register_version, approve_and_deploy
):
    first = register_version()
    approve_and_deploy(first)
    second = register_version()
    with artifact_storage().open(second.artifact_key, "wb") as handle:
        handle.write(real_models.iris_onnx()[:-10] + b"0123456789")

    deployment = approve_and_deploy(second)

    assert deployment.status == "Failed"
    assert "checksum mismatch" in deployment.error
    endpoint.refresh_from_db()
    assert endpoint.live_version == first


def test_a_model_that_fails_its_warm_up_fails_and_the_live_version_stays(
    endpoint, register_version, approve_and_deploy
):
    first = register_version()
    approve_and_deploy(first)
    second = register_version(sample_payload={"inputs": [[1.0, 2.0, 3.0]]})

    deployment = approve_and_deploy(second)

    assert deployment.status == "Failed"
    assert "warm-up" in deployment.error
    endpoint.refresh_from_db()
    assert endpoint.live_version == first


def test_a_model_over_the_loader_time_limit_fails(
    settings, endpoint, register_version, approve_and_deploy
):
    first = register_version()
    approve_and_deploy(first)
    settings.REGISTRY_LOADER_TIMEOUT = 0.01
    second = register_version()

    deployment = approve_and_deploy(second)

    assert deployment.status == "Failed"
    assert "time limit" in deployment.error
    endpoint.refresh_from_db()
    assert endpoint.live_version == first


def test_the_same_deployment_run_three_times_switches_the_endpoint_once(
    endpoint, register_version, approve, django_capture_on_commit_callbacks
):
    from catalog import outbox

    version = register_version()
    outbox.dispatch(approve(version).pk)
    deployment = Deployment.objects.get(version=version)

    outcomes = [deploy.deployment_run(deployment.pk) for _ in range(3)]

    assert outcomes == ["succeeded", "skipped", "skipped"]
    assert Event.objects.filter(kind="deployment.succeeded").count() == 1


def test_a_newer_deployment_supersedes_a_queued_one(
    endpoint, register_version, approve, deployer
):
    from catalog import outbox

    first, second = register_version(), register_version()
    outbox.dispatch(approve(first).pk)
    outbox.dispatch(approve(second).pk)

    older = Deployment.objects.get(version=first)
    assert older.status == "Superseded"
    assert Deployment.objects.get(version=second).status == "Queued"


def test_manual_deploy_of_a_pending_version_is_a_conflict(
    endpoint, register_version, deployer
):
    register_version()

    with pytest.raises(Conflict):
        deploy.deployment_request(actor=deployer, endpoint=endpoint, version_number=1)


def test_rollback_deploys_the_previous_version_that_served(
    endpoint, register_version, approve_and_deploy, deployer
):
    first, second = register_version(), register_version()
    approve_and_deploy(first)
    approve_and_deploy(second)

    deployment = deploy.deployment_rollback(actor=deployer, endpoint=endpoint)
    deploy.deployment_run(deployment.pk)

    endpoint.refresh_from_db()
    assert deployment.reason == "rollback"
    assert endpoint.live_version == first


def test_rollback_without_an_earlier_version_is_a_conflict(
    endpoint, register_version, approve_and_deploy, deployer
):
    approve_and_deploy(register_version())

    with pytest.raises(Conflict):
        deploy.deployment_rollback(actor=deployer, endpoint=endpoint)


def test_revoking_the_live_version_rolls_back_to_the_previous_approved_one(
    endpoint, register_version, approve_and_deploy, reviewer
):
    from approvals.services import review_submit
    from catalog import outbox

    first, second = register_version(), register_version()
    approve_and_deploy(first)
    approve_and_deploy(second)

    review_submit(actor=reviewer, version=second, decision="reject", comment="drift")
    outbox.dispatch(Event.objects.get(kind="version.rejected").pk)
    revocation = Deployment.objects.get(reason="revocation")
    deploy.deployment_run(revocation.pk)

    endpoint.refresh_from_db()
    assert endpoint.live_version == first


def test_revoking_the_only_version_stops_serving_with_a_message(
    endpoint, register_version, approve_and_deploy, reviewer
):
    from approvals.services import review_submit
    from catalog import outbox

    only = register_version()
    approve_and_deploy(only)

    review_submit(actor=reviewer, version=only, decision="reject", comment="bad")
    outbox.dispatch(Event.objects.get(kind="version.rejected").pk)

    endpoint.refresh_from_db()
    assert endpoint.live_version is None
    assert "revoked" in endpoint.serving_message


def test_the_loaded_model_predicts_like_the_scikit_learn_model(
    endpoint, register_version, approve_and_deploy
):
    from deployments import serving

    approve_and_deploy(register_version())

    live, outputs = serving.predict("iris-prod", SAMPLE)

    model, _, _ = real_models.iris_classifier()
    expected = model.predict_proba(np.asarray(SAMPLE, dtype=np.float32))
    assert live.version_number == 1
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)


def test_a_skops_type_the_site_trusts_loads_in_the_child_and_serves(
    settings, endpoint, register_version, approve_and_deploy
):
    from deployments import serving

    settings.REGISTRY_SKOPS_TRUSTED_TYPES = ["fractions.Fraction"]
    version = register_version(real_models.iris_skops_naming_a_fraction())

    deployment = approve_and_deploy(version)
    live, outputs = serving.predict("iris-prod", SAMPLE)

    assert deployment.status == "Succeeded", deployment.error
    assert live.version_id == version.pk
    assert outputs["label"] == [0, 2]


def test_endpoints_are_created_only_by_deployers(contributor, iris_group):
    from common.errors import Forbidden

    with pytest.raises(Forbidden):
        deploy.endpoint_create(actor=contributor, name="x", group=iris_group)
    assert not Endpoint.objects.exists()


def test_a_deployment_whose_worker_was_lost_three_times_ends_failed(
    endpoint, register_version, approve
):
    from datetime import timedelta

    from django.utils import timezone

    from catalog import outbox

    version = register_version()
    outbox.dispatch(approve(version).pk)
    Deployment.objects.filter(version=version).update(
        status="Running", attempts=3, lease_expires_at=timezone.now() - timedelta(1)
    )

    deploy.reconcile()

    lost = Deployment.objects.get(version=version)
    assert lost.status == "Failed"
    assert "worker was lost 3 times" in lost.error
    assert Event.objects.filter(kind="deployment.failed").count() == 1


def test_a_sample_payload_that_breaks_the_declared_shape_fails_the_warm_up(
    endpoint, register_version, approve_and_deploy
):
    version = register_version(input_schema={"shape": [1, 4]})  # SAMPLE has two rows

    deployment = approve_and_deploy(version)

    assert deployment.status == "Failed"
    assert "input_schema" in deployment.error


def test_without_a_sample_payload_the_warm_up_input_comes_from_the_schema(
    endpoint, register_version, approve_and_deploy
):
    version = register_version(sample_payload=None, input_schema={"shape": [-1, 4]})

    deployment = approve_and_deploy(version)

    assert deployment.status == "Succeeded", deployment.error
