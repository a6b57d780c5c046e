"""Issue 13: a version that an endpoint would deploy is loaded and warmed in the
sandbox when it becomes Ready, so that its approval does not wait for that check;
the deployment still verifies the bytes and reuses the check only when every
input matches."""

from __future__ import annotations

import pytest

from catalog.services import artifact_storage
from deployments.models import Deployment, LoadCheck
from deployments.services import prechecks
from tests import models as real_models
from tests.helpers import wait_for

AHEAD = "when it was checked ahead"


def test_a_version_checked_ahead_deploys_without_loading_again(
    endpoint, register_version, approve_and_deploy
):
    version = register_version()

    assert prechecks.version_precheck(version.pk) == "checked"
    assert prechecks.version_precheck(version.pk) == "known"
    deployment = approve_and_deploy(version)

    assert deployment.status == "Succeeded", deployment.error
    assert any("artifact verified" in line for line in deployment.log)
    assert any(AHEAD in line for line in deployment.log), deployment.log
    assert LoadCheck.objects.filter(version=version).count() == 1
    endpoint.refresh_from_db()
    assert endpoint.live_version == version


def test_a_deployment_records_its_own_check_for_the_next_one(
    endpoint, register_version, approve_and_deploy
):
    version = register_version()

    first = approve_and_deploy(version)

    assert first.status == "Succeeded", first.error
    assert not any(AHEAD in line for line in first.log)
    assert LoadCheck.objects.filter(version=version).count() == 1


def test_bytes_changed_after_the_check_still_fail_the_deployment(
    endpoint, register_version, approve_and_deploy
):
    live = register_version()
    approve_and_deploy(live)
    second = register_version()
    assert prechecks.version_precheck(second.pk) == "checked"
    with artifact_storage().open(second.artifact_key, "wb") as handle:
        handle.write(real_models.iris_onnx()[:-10] + b"0123456789")

    deployment = approve_and_deploy(second)

    assert deployment.status == "Failed"
    assert "checksum mismatch" in deployment.error
    endpoint.refresh_from_db()
    assert endpoint.live_version == live


def test_a_changed_loader_limit_checks_again(
    endpoint, register_version, approve_and_deploy, settings
):
    version = register_version()
    assert prechecks.version_precheck(version.pk) == "checked"
    settings.REGISTRY_LOADER_MEMORY = settings.REGISTRY_LOADER_MEMORY + 1024**2

    deployment = approve_and_deploy(version)

    assert deployment.status == "Succeeded", deployment.error
    assert not any(AHEAD in line for line in deployment.log)
    assert LoadCheck.objects.filter(version=version).count() == 2


def test_nothing_is_checked_where_no_endpoint_would_deploy(register_version):
    version = register_version()

    assert prechecks.version_precheck(version.pk) == "skipped"
    assert not LoadCheck.objects.exists()


def test_a_model_that_fails_its_warm_up_is_left_to_its_deployment(
    endpoint, register_version, approve_and_deploy
):
    version = register_version(sample_payload={"inputs": [[1.0, 2.0]]})

    assert prechecks.version_precheck(version.pk) == "failed"
    deployment = approve_and_deploy(version)

    assert deployment.status == "Failed"
    assert not LoadCheck.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_checks_a_new_version_ahead(worker, endpoint, register_version):
    version = register_version()

    wait_for(
        lambda: LoadCheck.objects.filter(version=version).exists(),
        timeout=60,
        message="the worker to check the version ahead",
    )
    assert not Deployment.objects.filter(version=version).exists()
