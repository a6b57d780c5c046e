"""The ``ray`` target against a real local Ray cluster (``ray start --head`` from the
``ray[serve]`` package, on loopback, in its own temporary folder, stopped at the end).

The session's Celery worker runs the deployments (restarted here so that the signed
artifact URLs it hands to Ray name the test's web server), Ray's replicas download
the artifact from that server, and ``/invocations`` on the web server forwards to
Ray's HTTP proxy. Where Ray cannot start the module is skipped with the reason;
with ``CI=true`` that is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from django.test import Client

from accounts import services as accounts
from catalog import outbox
from catalog.models import ModelVersion
from deployments import services as deploy
from deployments.models import Deployment, Endpoint
from tests.helpers import SAMPLE, wait_for
from tests.raycluster import RayCluster
from tests.sagemaker_api.conftest import client as sagemaker_client
from tests.sagemaker_api.conftest import issue_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    cluster = RayCluster()
    started = time.monotonic()
    try:
        cluster.start()
        print(f"Ray started in {time.monotonic() - started:.1f} s")
    except Exception as exc:
        cluster.stop()
        reason = f"Ray cannot start here: {type(exc).__name__}: {exc}"[:2000]
        print(reason)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def stack(
    ray_cluster: RayCluster, web_server: Any, celery_worker_process: Any
) -> Iterator[Any]:
    """The worker, restarted to name the web server in the URLs it gives Ray."""
    started = time.monotonic()
    before = dict(celery_worker_process.env)
    celery_worker_process.env.update(
        {
            "REGISTRY_PUBLIC_URL": web_server.url,
            "CELERY_TASK_TIME_LIMIT": "120",
            "CELERY_TASK_SOFT_TIME_LIMIT": "110",
            "REGISTRY_RAY_DEPLOY_TIMEOUT": "60",
        }
    )
    celery_worker_process.restart()
    print(f"worker restarted in {time.monotonic() - started:.1f} s")
    yield web_server
    celery_worker_process.env.clear()
    celery_worker_process.env.update(before)
    celery_worker_process.restart()


@pytest.fixture
def ray_endpoint(
    stack: Any, worker: Any, deployer: Any, iris_group: Any, ray_cluster: RayCluster
) -> Endpoint:
    return deploy.endpoint_create(
        actor=deployer,
        name="iris-ray",
        group=iris_group,
        target="ray",
        ray_num_replicas=1,
        ray_num_cpus=0.25,
        ray_dashboard_url=ray_cluster.dashboard,
        ray_serve_url=ray_cluster.serve,
    )


@pytest.fixture
def invoke(stack: Any, viewer: Any) -> Callable[[], requests.Response]:
    key = accounts.token_issue(user=viewer)[1]
    session = requests.Session()

    def call() -> requests.Response:
        return session.post(
            f"{stack.url}/api/v1/endpoints/iris-ray/invocations",
            json={"inputs": SAMPLE},
            headers={"Authorization": f"Token {key}"},
            timeout=30,
        )

    return call


def _ended(deployment_id: int) -> Deployment:
    wait_for(
        lambda: Deployment.objects.get(pk=deployment_id).is_terminal,
        timeout=90,
        message=f"deployment {deployment_id} to end",
    )
    return Deployment.objects.get(pk=deployment_id)


@pytest.fixture
def approved(
    approve: Callable[[ModelVersion], Any],
) -> Callable[[ModelVersion], Deployment]:
    def do(version: ModelVersion) -> Deployment:
        event = approve(version)
        outbox.dispatch(event.pk)
        deployment = Deployment.objects.filter(version=version).latest("id")
        return _ended(deployment.pk)

    return do


def test_deploy_invoke_roll_back_fail_and_lose_a_replica(
    stack: Any,
    viewer: Any,
    ray_endpoint: Endpoint,
    register_version: Callable[..., ModelVersion],
    approved: Callable[[ModelVersion], Deployment],
    invoke: Callable[[], requests.Response],
    deployer: Any,
    ray_cluster: RayCluster,
    shared_artifact_dir: Path,
) -> None:
    # An approved version is deployed to Ray and answers through /invocations.
    v1 = register_version()
    first = approved(v1)
    assert first.status == "Succeeded", (first.error, first.log)
    assert any("RUNNING" in line for line in first.log)
    answer = invoke()
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == v1.version
    assert answer.json()["predictions"] == [0, 2]
    assert answer.headers["X-Model-Version"] == str(v1.version)
    assert ray_cluster.applications()["iris-ray-v1"]["status"] == "RUNNING"
    page = signed_in(deployer).get("/endpoints/iris-ray/").content.decode()
    assert "iris-ray-v1" in page and "RUNNING" in page
    # sagemaker-runtime's InvokeEndpoint answers the same, through the same forward.
    runtime = sagemaker_client(
        stack.url, issue_key(stack.url, viewer), service="sagemaker-runtime"
    )
    through_sagemaker = runtime.invoke_endpoint(
        EndpointName="iris-ray",
        Body=json.dumps({"inputs": SAMPLE}),
        ContentType="application/json",
    )
    assert json.loads(through_sagemaker["Body"].read()) == answer.json()
    # The Open Inference Protocol with the stock tritonclient: the metadata the
    # replicas report, the answers /invocations gives.
    triton = httpclient.InferenceServerClient(stack.url.removeprefix("http://"))
    bearer = {"Authorization": f"Bearer {accounts.token_issue(user=viewer)[1]}"}
    assert triton.is_model_ready("iris-ray", headers=bearer)
    metadata = triton.get_model_metadata("iris-ray", headers=bearer)
    assert metadata["versions"] == [str(v1.version)]
    (tensor,) = metadata["inputs"]
    assert (tensor["datatype"], tensor["shape"]) == ("FP32", [-1, 4])
    rows = np.asarray(SAMPLE, dtype=np.float32)
    given = httpclient.InferInput(tensor["name"], list(rows.shape), "FP32")
    given.set_data_from_numpy(rows, binary_data=True)
    result = triton.infer("iris-ray", [given], headers=bearer)
    assert result.get_response()["model_version"] == str(v1.version)
    for name, value in answer.json()["outputs"].items():
        assert result.as_numpy(name).tolist() == value, name

    # A second version: the endpoint switches once Ray runs it.
    v2 = register_version()
    second = approved(v2)
    assert second.status == "Succeeded", (second.error, second.log)
    assert invoke().json()["model_version"] == v2.version

    # Roll back: v1 serves again (its application was kept as the previous one).
    rollback = deploy.deployment_rollback(
        actor=deployer, endpoint=Endpoint.objects.get(pk=ray_endpoint.pk)
    )
    assert _ended(rollback.pk).status == "Succeeded"
    assert invoke().json()["model_version"] == v1.version

    # A version whose replicas cannot start (its artifact went missing after the
    # approval): Failed with Ray's message, and v1 keeps serving.
    v3 = register_version()
    artifact = shared_artifact_dir / v3.artifact_key
    artifact.unlink()
    third = approved(v3)
    assert third.status == "Failed"
    print("\n".join([*first.log, *third.log]))
    assert "Ray" in third.error and "iris-ray-v3" in third.error, third.error
    wait_for(
        lambda: "iris-ray-v3" not in ray_cluster.applications(),
        timeout=30,
        interval=0.5,
        message="the failed application to be removed",
    )
    answer = invoke()
    assert answer.status_code == 200 and answer.json()["model_version"] == 1

    # Kill the replica process: Ray starts another, the endpoint keeps v1.
    def replica_pid() -> int | None:
        model = ray_cluster.applications()["iris-ray-v1"]["deployments"]["Model"]
        pids = [r.get("pid") for r in model["replicas"] if r["state"] == "RUNNING"]
        return pids[0] if pids and pids[0] else None

    pid = wait_for(replica_pid, timeout=30, interval=0.5, message="a replica's pid")
    os.kill(pid, signal.SIGKILL)

    def replaced() -> bool:
        now = ray_cluster.applications()["iris-ray-v1"]["deployments"]["Model"]
        return any(
            r.get("pid") not in (None, pid) and r["state"] == "RUNNING"
            for r in now["replicas"]
        )

    wait_for(replaced, timeout=60, interval=0.5, message="Ray to replace the replica")
    wait_for(lambda: invoke().status_code == 200, timeout=30, message="v1 again")
    assert invoke().json()["model_version"] == v1.version
    endpoint = Endpoint.objects.get(pk=ray_endpoint.pk)
    assert endpoint.live_version_id == v1.pk

    # Deleting the endpoint removes its applications from the cluster (a task).
    deploy.endpoint_delete(actor=deployer, endpoint=endpoint)
    wait_for(
        lambda: (
            not any(app.startswith("iris-ray-v") for app in ray_cluster.applications())
        ),
        timeout=60,
        interval=0.5,
        message="the deleted endpoint's applications to be removed",
    )


def test_ray_settings_are_checked(deployer: Any, iris_group: Any) -> None:
    from common.errors import Invalid

    with pytest.raises(Invalid) as caught:
        deploy.endpoint_create(
            actor=deployer,
            name="bad-ray",
            group=iris_group,
            target="ray",
            ray_min_replicas=3,
            ray_max_replicas=2,
        )
    assert "ray_max_replicas" in caught.value.fields


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client
