"""Issue 13, isolation and limits: a process keeps a bounded number of models loaded
(least recently used out, loaded again on demand), every invocation has a time limit
and a bounded input size, and an invocation counts once against the rate limit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import pytest
import requests
from django.core.cache import caches
from onnx import TensorProto, helper, numpy_helper

from accounts import services as accounts
from catalog import outbox
from catalog.models import ModelVersion
from deployments import services as deploy
from deployments import serving
from deployments.fastpath import FastPath
from deployments.models import Deployment
from modelformats.served import ChildPredictor
from registry_site.wsgi import django_application
from sagemaker_api.endpoints import invoke
from tests import models as real_models
from tests.conftest import settings_base_dir
from tests.deployments.test_fastpath import call
from tests.helpers import SAMPLE, wait_for
from tests.server import WebServer

pytestmark = pytest.mark.django_db(transaction=True)
WIDTH = 64


def matmul_chain(nodes: int = 10_000) -> bytes:
    """An ONNX model whose work grows with its input: ``nodes`` MatMuls in a row by
    an orthogonal matrix (values stay bounded), one row of WIDTH floats per input."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((WIDTH, WIDTH)))
    names = ["X", *(f"h{i}" for i in range(nodes - 1)), "Y"]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [names[i], "W"], [names[i + 1]])
            for i in range(nodes)
        ],
        "chain",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, WIDTH])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, WIDTH])],
        [numpy_helper.from_array(q.astype(np.float32), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def deploy_everywhere(approve: Callable, version: ModelVersion) -> None:
    """Approve ``version`` and run the deployment of every endpoint on its group."""
    outbox.dispatch(approve(version).pk)
    for deployment in Deployment.objects.filter(version=version):
        deploy.deployment_run(deployment.pk)
    wait_for(
        lambda: all(d.is_terminal for d in Deployment.objects.filter(version=version)),
        timeout=60,
        message="the deployments to end",
    )


@pytest.fixture
def three_live(worker, deployer, iris_group, register_version, approve) -> list[str]:
    names = ["iris-a", "iris-b", "iris-c"]
    for name in names:
        deploy.endpoint_create(actor=deployer, name=name, group=iris_group)
    deploy_everywhere(approve, register_version())
    return names


@pytest.fixture
def slow_live(worker, endpoint, register_version, approve_and_deploy) -> ModelVersion:
    """iris-prod serving a MatMul chain: 1 row answers in milliseconds, 4,000 rows
    take about 8 s."""
    version = register_version(
        matmul_chain(), sample_payload={"inputs": [[0.5] * WIDTH]}
    )
    approve_and_deploy(version)
    return version


def key(user: Any) -> str:
    return accounts.token_issue(user=user)[1]


def loaded_here() -> set[str]:
    return {
        name
        for name, seen in serving.process_status()["endpoints"].items()
        if seen["serving_version"] is not None
    }


# --- bounded memory ------------------------------------------------------------------


def test_a_process_keeps_at_most_the_configured_number_of_models(three_live, settings):
    settings.REGISTRY_SERVING_MAX_MODELS = 2
    expected = serving.predict("iris-a", SAMPLE)[1]

    for _ in range(3):
        for name in three_live:
            live, outputs = serving.predict(name, SAMPLE)
            assert outputs == expected
            assert serving.loaded_count() <= 2

    status = serving.process_status()["endpoints"]
    assert loaded_here() == {"iris-b", "iris-c"}  # the least recently used went out
    assert status["iris-a"]["evicted"] is True
    assert status["iris-a"]["failed"] == {}
    assert status["iris-a"]["live_version_id"] == live.version_id


def test_the_byte_budget_bounds_the_models_too(three_live, settings):
    size = ModelVersion.objects.get().artifact_size
    settings.REGISTRY_SERVING_MAX_BYTES = size  # room for one

    for name in three_live:
        serving.predict(name, SAMPLE)
        assert loaded_here() == {name}


def test_an_unloaded_model_loads_again_with_its_digest_checked(three_live, settings):
    settings.REGISTRY_SERVING_MAX_MODELS = 1
    serving.predict("iris-a", SAMPLE)
    serving.predict("iris-b", SAMPLE)  # iris-a goes out
    from catalog.services import artifact_storage

    version = ModelVersion.objects.get()
    with open(artifact_storage().path(version.artifact_key), "r+b") as stored:
        stored.seek(40)
        stored.write(b"\x00\x01\x02")

    with pytest.raises(serving.NotServing, match="checksum mismatch"):
        serving.predict("iris-a", SAMPLE)


def test_the_endpoint_page_says_an_unloaded_model_loads_on_demand(
    three_live, settings, client, viewer, tmp_path
):
    settings.DATA_DIR = tmp_path
    settings.REGISTRY_SERVING_MAX_MODELS = 1
    serving.predict("iris-a", SAMPLE)
    serving.predict("iris-b", SAMPLE)
    serving.report_status()
    client.force_login(viewer)

    page = client.get("/endpoints/iris-a/").content.decode()

    assert "not loaded, loads on demand" in page


@pytest.fixture
def capped_server(worker, tmp_path) -> Any:
    """gunicorn as `make run` starts it, keeping at most two models per process."""
    env = {
        **worker.env,
        "REGISTRY_SERVING_REFRESH": "0.05",
        "REGISTRY_SERVING_MAX_MODELS": "2",
    }
    server = WebServer(env, tmp_path / "web.log", settings_base_dir())
    server.start()
    yield server
    server.stop()


def test_gunicorn_with_two_models_answers_three_endpoints(
    three_live, capped_server, viewer
):
    headers = {"Authorization": f"Token {key(viewer)}"}
    answers = []
    with requests.Session() as http:
        for _ in range(3):
            for name in three_live:
                answer = http.post(
                    f"{capped_server.url}/api/v1/endpoints/{name}/invocations",
                    json={"inputs": SAMPLE},
                    headers=headers,
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
                answers.append(answer.json()["outputs"])
                ready = http.get(f"{capped_server.url}/readyz", timeout=30).json()
                served = ready["serving"]["this_process"]["endpoints"]
                held = [n for n, seen in served.items() if seen["serving_version"]]
                assert len(held) <= 2, served

    assert all(outputs == answers[0] for outputs in answers)
    evicted = [n for n, seen in served.items() if seen["evicted"]]
    assert len(evicted) == 1 and not served[evicted[0]]["failed"]


# --- input size ---------------------------------------------------------------------


def test_an_input_over_the_element_limit_is_a_400_naming_it(
    live_iris, viewer, settings
):
    settings.REGISTRY_INVOCATION_MAX_ELEMENTS = 100
    fast = FastPath(django_application, listen=False)
    body = {"inputs": SAMPLE * 30}

    for app in (django_application, fast):
        status, _, content = call(app, body=body, key=key(viewer))
        assert status == 400, content
        assert b"REGISTRY_INVOCATION_MAX_ELEMENTS" in content


def test_a_40_tb_declared_tensor_is_refused_before_any_array(live_iris, viewer):
    fast = FastPath(django_application, listen=False)
    for shape in ([10**13, 4], [10**12, 0]):
        body = {
            "inputs": [{"name": "X", "shape": shape, "datatype": "FP32", "data": []}]
        }
        status, _, content = call(
            fast,
            "/v2/models/iris-prod/infer",
            body=body,
            headers={"Authorization": f"Bearer {key(viewer)}"},
        )
        assert status == 413, content
        assert b"REGISTRY_INVOCATION_MAX_ELEMENTS" in content


@pytest.fixture
def live_iris(worker, endpoint, register_version, approve_and_deploy) -> ModelVersion:
    version = register_version()
    approve_and_deploy(version)
    return version


# --- time limit ---------------------------------------------------------------------

BIG = {"inputs": [[0.5] * WIDTH] * 4000}


def _stopped_in_time(started: float, settings: Any) -> None:
    # The whole run takes about 8 s on this machine; the margin is for parsing
    # 4,000 rows on a busy one.
    took = time.monotonic() - started
    assert took < settings.REGISTRY_INVOCATION_TIMEOUT + 4, took


@pytest.mark.parametrize("face", ["django", "fast path"])
def test_a_run_over_the_time_limit_is_a_503_and_frees_the_thread(
    slow_live, viewer, settings, face
):
    settings.REGISTRY_INVOCATION_TIMEOUT = 0.3
    app = FastPath(django_application, listen=False)
    token = key(viewer)
    small = {"inputs": [[0.5] * WIDTH]}
    assert call(app, body=small, key=token)[0] == 200  # Django answers the first
    if face == "django":
        app = django_application

    started = time.monotonic()
    status, _, content = call(app, body=BIG, key=token)

    assert status == 503, content
    assert json.loads(content)["error"]["code"] == "timeout"
    assert b"REGISTRY_INVOCATION_TIMEOUT" in content
    _stopped_in_time(started, settings)
    assert call(app, body=small, key=token)[0] == 200


def test_the_open_inference_protocol_stops_a_run_too(slow_live, viewer, settings):
    settings.REGISTRY_INVOCATION_TIMEOUT = 0.3
    tensor = {"name": "X", "shape": [4000, WIDTH], "datatype": "FP32"}
    body = {"inputs": [{**tensor, "data": [0.5] * (4000 * WIDTH)}]}
    fast = FastPath(django_application, listen=False)

    started = time.monotonic()
    status, _, content = call(
        fast,
        "/v2/models/iris-prod/infer",
        body=body,
        headers={"Authorization": f"Bearer {key(viewer)}"},
    )

    assert status == 503, content
    assert b"REGISTRY_INVOCATION_TIMEOUT" in content
    _stopped_in_time(started, settings)


def test_sagemaker_invoke_endpoint_stops_a_run_too(slow_live, viewer, settings):
    from sagemaker_api.protocol import AwsError

    settings.REGISTRY_INVOCATION_TIMEOUT = 0.3
    started = time.monotonic()
    with pytest.raises(AwsError) as refused:
        invoke(viewer, "iris-prod", json.dumps(BIG).encode(), "application/json", "")

    assert refused.value.status == 503
    assert "REGISTRY_INVOCATION_TIMEOUT" in refused.value.message
    _stopped_in_time(started, settings)


# --- rate limit ---------------------------------------------------------------------


def test_a_request_handed_to_django_is_counted_once(live_iris, viewer, settings):
    settings.REGISTRY_RATE_LIMITS = {
        **settings.REGISTRY_RATE_LIMITS,
        "invocation": "3/m",
    }
    caches["default"].clear()
    token = key(viewer)
    fast = FastPath(django_application, listen=False)
    wrong_shape = {"inputs": [[1.0, 2.0]]}  # read by the fast path, refused later

    answers = [
        call(fast, body={"inputs": SAMPLE}, key=token)[0],
        call(fast, body=wrong_shape, key=token)[0],
        call(fast, body=wrong_shape, key=token)[0],
        call(fast, body={"inputs": SAMPLE}, key=token)[0],
    ]

    assert answers == [200, 400, 400, 429]


def test_a_skops_run_over_the_time_limit_is_stopped_in_its_child(
    worker, endpoint, register_version, approve_and_deploy, settings
):
    """scikit-learn cannot be interrupted in the process: a skops model answers from
    a limited child (REGISTRY_SERVING_CHILD_FORMATS), killed at the time limit."""
    version = register_version(real_models.slow_skops())
    wait_for(  # a large artifact: the worker checks it first
        lambda: ModelVersion.objects.filter(pk=version.pk, registration_status="Ready"),
        timeout=60,
        message="the worker to check the forest",
    )
    approve_and_deploy(version)
    assert serving.predict("iris-prod", SAMPLE)[1]["label"] == [0, 2]
    child = serving.live_model("iris-prod").predictor
    assert isinstance(child, ChildPredictor)
    settings.REGISTRY_INVOCATION_TIMEOUT = 0.05

    started = time.monotonic()
    with pytest.raises(serving.TimedOut, match="REGISTRY_INVOCATION_TIMEOUT"):
        serving.predict("iris-prod", SAMPLE * 25_000)

    assert time.monotonic() - started < 5
    assert child.stopped  # killed, its memory with it
    settings.REGISTRY_INVOCATION_TIMEOUT = 10
    assert serving.predict("iris-prod", SAMPLE)[1]["label"] == [0, 2]  # loaded again
