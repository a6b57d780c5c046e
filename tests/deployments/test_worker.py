"""A real Celery worker on a real Redis broker deploys approved versions."""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pytest
from django.core.files.base import ContentFile

from catalog import services
from catalog.models import Event, ModelVersion
from deployments.models import Deployment
from deployments.tasks import deploy_task
from tests import models as real_models
from tests.helpers import SAMPLE, forget_check_ahead, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_START = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _terminal(deployment_id: int) -> Deployment | None:
    deployment = Deployment.objects.get(pk=deployment_id)
    return deployment if deployment.is_terminal else None


def _deployment_of(version) -> Deployment:
    return wait_for(
        lambda: Deployment.objects.filter(version=version).first(),
        message="a deployment row",
    )


def test_an_approved_version_is_deployed_by_the_worker_and_serves(
    worker, endpoint, register_version, client_for, reviewer, viewer
):
    version = register_version()

    approved = client_for(reviewer).post(
        "/api/v1/model-groups/iris/versions/1/reviews/",
        {"decision": "approve"},
        format="json",
    )
    assert approved.status_code == 201

    deployment = wait_for(
        lambda: _terminal(_deployment_of(version).pk),
        timeout=60,
        message="the deployment to finish",
    )
    assert deployment.status == "Succeeded", (deployment.error, worker.log_tail())
    response = client_for(viewer).post(
        "/api/v1/endpoints/iris-prod/invocations", {"inputs": SAMPLE}, format="json"
    )
    assert response["X-Model-Version"] == "1"
    model, _, _ = real_models.iris_classifier()
    np.testing.assert_allclose(
        response.json()["outputs"]["probabilities"],
        model.predict_proba(np.asarray(SAMPLE, np.float32)),
        atol=1e-5,
    )


def test_the_same_deployment_delivered_three_times_switches_once(
    worker, endpoint, register_version, approve, deployer
):
    from deployments import services as deploy

    version = register_version()
    approve(version)
    deployment = _deployment_of(version)

    for _ in range(3):
        deploy_task.delay(deployment.pk)

    wait_for(lambda: _terminal(deployment.pk), timeout=60, message="the deployment")
    time.sleep(1.5)  # let the duplicate deliveries run too
    assert Event.objects.filter(kind="deployment.succeeded").count() == 1
    assert deploy.deployment_run(deployment.pk) == "skipped"


def test_a_deployment_survives_its_worker_being_killed(
    worker, endpoint, contributor, iris_group, approve, settings
):
    content = real_models.slow_skops()
    version = services.version_register(
        actor=contributor,
        group=iris_group,
        artifact=ContentFile(content, name="m.skops"),
        sample_payload={"inputs": SAMPLE},
    )
    # Over REGISTRY_INLINE_CHECK_MAX: the worker checks it first.
    wait_for(
        lambda: ModelVersion.objects.filter(pk=version.pk, registration_status="Ready"),
        timeout=60,
        message="the worker to check the large artifact",
    )
    forget_check_ahead(version)  # the deployment must take long enough to be killed
    approve(version)
    deployment = _deployment_of(version)
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).status == "Running",
        timeout=30,
        interval=0.02,
        message="the deployment to start running",
    )

    worker.kill()
    worker.start()

    limit = settings.REGISTRY_DEPLOY_LEASE + 30
    finished = wait_for(
        lambda: _terminal(deployment.pk),
        timeout=limit,
        message="the deployment to end after the worker was killed",
    )
    assert finished.status in {"Succeeded", "Failed"}, worker.log_tail()


def _redis(command: str) -> None:
    subprocess.run(command, shell=True, check=False, capture_output=True, timeout=30)  # noqa: S602


def test_an_approval_while_redis_is_down_is_deployed_when_it_is_back(
    worker, endpoint, register_version, client_for, reviewer
):
    version = register_version()
    _redis("redis-cli -p 6379 shutdown nosave")
    try:
        wait_for(
            lambda: (
                subprocess.run(["redis-cli", "ping"], capture_output=True).returncode
                != 0
            ),
            timeout=10,
            message="redis to stop",
        )
        start = time.monotonic()
        response = client_for(reviewer).post(
            "/api/v1/model-groups/iris/versions/1/reviews/",
            {"decision": "approve"},
            format="json",
        )
        elapsed = time.monotonic() - start
        assert response.status_code == 201
        assert response.json()["approval_status"] == "Approved"
        assert elapsed < 8, f"the approval took {elapsed:.1f} s with the broker down"
        assert not Deployment.objects.exists()
    finally:
        _redis(REDIS_START)
        wait_for(
            lambda: (
                subprocess.run(["redis-cli", "ping"], capture_output=True).returncode
                == 0
            ),
            timeout=20,
            message="redis to start",
        )

    deployment = wait_for(
        lambda: Deployment.objects.filter(version=version).first(),
        timeout=90,
        message="the outbox sweep to create the deployment",
    )
    finished = wait_for(
        lambda: _terminal(deployment.pk), timeout=60, message="deployment"
    )
    assert finished.status == "Succeeded", finished.error


def _live_number(endpoint) -> int | None:
    endpoint.refresh_from_db()
    return endpoint.live_version.version if endpoint.live_version else None


def test_no_invocation_fails_while_the_live_version_switches_ten_times(
    worker, endpoint, register_version, approve, deployer, live_server, viewer
):
    import requests

    from accounts.services import token_issue
    from deployments import services as deploy

    first, second = register_version(), register_version()
    approve(first)
    wait_for(lambda: _live_number(endpoint) == 1, timeout=60, message="v1 live")
    approve(second)
    wait_for(lambda: _live_number(endpoint) == 2, timeout=60, message="v2 live")
    _, key = token_issue(user=viewer)
    url = f"{live_server.url}/api/v1/endpoints/iris-prod/invocations"
    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def client() -> None:
        session = requests.Session()
        while not stop.is_set():
            response = session.post(
                url,
                json={"inputs": SAMPLE},
                timeout=10,
                headers={"Authorization": f"Token {key}"},
            )
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")
            seen.add(response.headers.get("X-Model-Version", "?"))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for number in [1, 2] * 5:
            deployment = deploy.deployment_request(
                actor=deployer, endpoint=endpoint, version_number=number
            )
            done = wait_for(
                lambda d=deployment: _terminal(d.pk), timeout=60, message="the switch"
            )
            assert done.status == "Succeeded", done.error
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert failures[:3] == []
    assert seen == {"1", "2"}


def test_an_approval_answers_quickly_while_redis_is_frozen(
    worker, endpoint, register_version, client_for, reviewer
):
    version = register_version()
    pid = subprocess.run(
        ["pidof", "redis-server"], capture_output=True, text=True, check=False
    ).stdout.split()
    if not pid:
        pytest.skip("redis-server is not a local process here")
    subprocess.run(["kill", "-STOP", *pid], check=True)
    try:
        start = time.monotonic()
        response = client_for(reviewer).post(
            "/api/v1/model-groups/iris/versions/1/reviews/",
            {"decision": "approve"},
            format="json",
        )
        elapsed = time.monotonic() - start
    finally:
        subprocess.run(["kill", "-CONT", *pid], check=True)
    assert response.status_code == 201
    assert elapsed < 2, f"the approval took {elapsed:.1f} s with the broker frozen"
    deployment = wait_for(
        lambda: Deployment.objects.filter(version=version).first(),
        timeout=90,
        message="the deployment after Redis thawed",
    )
    finished = wait_for(lambda: _terminal(deployment.pk), timeout=60, message="deploy")
    assert finished.status == "Succeeded", finished.error
