"""Issue 13, bad input under load: gunicorn as `make run` starts it, 16 concurrent
clients sending a mix of good requests and every kind of bad one (wrong shapes and
types, broken JSON, too many elements, a 40 TB declared tensor, an oversized body,
unknown endpoints and keys) while 16 runs of a model whose work grows with its input
hit the time limit. Every answer is the one its kind deserves; the only 5xx is the
503 that names the time limit, and the good requests all answer."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.core.files.base import ContentFile

from accounts import services as accounts
from catalog import services as catalog
from deployments import services as deploy
from tests.conftest import settings_base_dir
from tests.deployments.test_serving_limits import WIDTH, matmul_chain
from tests.helpers import SAMPLE
from tests.server import WebServer

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 0.5
MAX_ELEMENTS = 100_000
IRIS = "/api/v1/endpoints/iris-prod/invocations"
OIP = "/v2/models/iris-prod/infer"
SLOW = "/api/v1/endpoints/chain-prod/invocations"


@pytest.fixture
def loaded(worker, tmp_path) -> Any:
    """gunicorn with a short time limit and a small element limit."""
    env = {
        **worker.env,
        "REGISTRY_SERVING_REFRESH": "0.05",
        "REGISTRY_INVOCATION_TIMEOUT": str(TIMEOUT),
        "REGISTRY_INVOCATION_MAX_ELEMENTS": str(MAX_ELEMENTS),
        "REGISTRY_MAX_INVOCATION_SIZE": "2MiB",
    }
    server = WebServer(env, tmp_path / "web.log", settings_base_dir())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_live(
    worker, endpoint, register_version, approve_and_deploy, contributor, deployer
) -> None:
    """iris-prod serving iris; chain-prod serving a MatMul chain (1,500 rows take
    about 3 s, six times the time limit)."""
    approve_and_deploy(register_version())
    chain = catalog.group_create(actor=contributor, name="chain")
    deploy.endpoint_create(actor=deployer, name="chain-prod", group=chain)
    version = catalog.version_register(
        actor=contributor,
        group=chain,
        artifact=ContentFile(matmul_chain(), name="chain.onnx"),
        sample_payload={"inputs": [[0.5] * WIDTH]},
    )
    approve_and_deploy(version)


def _kinds(key: str) -> dict[str, tuple[str, bytes, str, set[int]]]:
    """Each kind of request: path, body, key, and the statuses it may get."""
    good = json.dumps({"inputs": SAMPLE}).encode()
    tensor = {"name": "X", "shape": [2, 4], "datatype": "FP32", "data": SAMPLE}
    declared = {"name": "X", "shape": [10**13, 4], "datatype": "FP32", "data": []}
    rows = MAX_ELEMENTS // 4 + 1
    return {
        "good": (IRIS, good, key, {200}),
        "good, open inference protocol": (
            OIP,
            json.dumps({"inputs": [tensor]}).encode(),
            key,
            {200},
        ),
        "wrong shape": (IRIS, b'{"inputs": [[1, 2, 3]]}', key, {400}),
        "wrong type": (IRIS, b'{"inputs": [["a", "b", "c", "d"]]}', key, {400}),
        "broken JSON": (IRIS, b'{"inputs": [[5.1, 3.5', key, {400}),
        "too many elements": (
            IRIS,
            json.dumps({"inputs": [[0.5] * 4] * rows}).encode(),
            key,
            {400},
        ),
        "a 40 TB declared tensor": (
            OIP,
            json.dumps({"inputs": [declared]}).encode(),
            key,
            {413},
        ),
        "an oversized body": (IRIS, b"[" + b"0.5," * 700_000 + b"0]", key, {413}),
        "no such endpoint": ("/api/v1/endpoints/nope/invocations", good, key, {404}),
        "an unknown key": (IRIS, good, "not-a-key", {401}),
        "over the time limit": (
            SLOW,
            json.dumps({"inputs": [[0.5] * WIDTH] * 1500}).encode(),
            key,
            {503},
        ),
    }


def test_bad_input_and_slow_runs_under_load_get_their_answers_and_no_other_5xx(
    two_live, loaded, viewer
):
    key = accounts.token_issue(user=viewer)[1]
    kinds = _kinds(key)
    plan = (
        ["good"] * 300
        + ["good, open inference protocol"] * 60
        + ["over the time limit"] * 16
        + ["an oversized body"] * 8
        + [k for k in kinds if k not in ("good", "over the time limit")] * 20
    )
    random.Random(13).shuffle(plan)
    local = threading.local()

    def send(kind: str) -> tuple[str, int, str]:
        path, body, token, _ = kinds[kind]
        if not hasattr(local, "http"):
            local.http = requests.Session()
        answer = local.http.post(
            loaded.url + path,
            data=body,
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
            },
            timeout=120,
        )
        return kind, answer.status_code, answer.text[:300]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, plan))

    unexpected = [a for a in answers if a[1] not in kinds[a[0]][3]]
    assert unexpected == [], unexpected[:5]
    tally = Counter((kind, status) for kind, status, _ in answers)
    assert tally[("good", 200)] == 300
    for kind, status, text in answers:
        if status == 503:
            assert kind == "over the time limit"
            assert "REGISTRY_INVOCATION_TIMEOUT" in text, text
        if kind == "too many elements":
            assert "REGISTRY_INVOCATION_MAX_ELEMENTS" in text, text
    # The server is whole afterwards: the slow model answers a small input, iris
    # answers, and the process reports itself ready.
    with requests.Session() as http:
        small = json.dumps({"inputs": [[0.5] * WIDTH]})
        for path, body in ((SLOW, small), (IRIS, json.dumps({"inputs": SAMPLE}))):
            answer = http.post(
                loaded.url + path,
                data=body,
                headers={"Authorization": f"Token {key}"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
        assert http.get(loaded.url + "/readyz", timeout=30).status_code == 200
