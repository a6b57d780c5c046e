"""The ``modelreg`` console script end to end against the server `make run` starts (gunicorn) and a real worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from accounts.services import token_issue
from deployments import services as deploy
from tests import models as real_models
from tests.deployments.conftest import SAMPLE

pytestmark = pytest.mark.django_db(transaction=True)
MODELREG = str(Path(sys.executable).with_name("modelreg"))


@pytest.fixture
def cli(web_server, contributor):
    _, key = token_issue(user=contributor, scopes=["read", "write", "invoke"])
    env = {**os.environ, "MODELREG_URL": web_server.url, "MODELREG_TOKEN": key}

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [MODELREG, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [MODELREG, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    run.start = start  # type: ignore[attr-defined]
    return run


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "iris.onnx"
    model.write_bytes(real_models.iris_onnx())
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": real_models.iris_accuracy()}))
    payload = tmp_path / "input.json"
    payload.write_text(json.dumps({"inputs": SAMPLE}))
    return {"model": str(model), "metrics": str(metrics), "input": str(payload)}


def _approve(client_for, reviewer, number: int, decision: str = "approve") -> None:
    response = client_for(reviewer).post(
        f"/api/v1/model-groups/iris/versions/{number}/reviews/",
        {"decision": decision, "comment": "checked"},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_register_wait_deploy_and_invoke(
    worker, cli, files, client_for, reviewer, deployer_user
):
    assert cli("groups", "create", "iris", "--tag", "team=ml").returncode == 0
    deploy.endpoint_create(
        actor=deployer_user, name="iris-prod", group=services_group("iris")
    )

    registered = cli(
        "versions",
        "register",
        "iris",
        files["model"],
        "--metrics",
        files["metrics"],
        "--param",
        "C=1.0",
        "--tag",
        "stage=ci",
        "--sample-payload",
        files["input"],
        "--no-progress",
    )
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "1"

    waiting = cli.start(
        "versions",
        "wait",
        "iris",
        "1",
        "--until",
        "approved",
        "--timeout",
        "60",
        "--interval",
        "0.2",
    )
    time.sleep(0.5)
    _approve(client_for, reviewer, 1)
    assert waiting.wait(timeout=90) == 0, waiting.stderr.read()

    live = cli(
        "endpoints",
        "wait",
        "iris-prod",
        "--version",
        "1",
        "--timeout",
        "60",
        "--interval",
        "0.2",
    )
    assert live.returncode == 0, live.stdout + live.stderr

    invoked = cli(
        "--output",
        "json",
        "endpoints",
        "invoke",
        "iris-prod",
        "--input",
        files["input"],
    )
    assert invoked.returncode == 0, invoked.stderr
    body = json.loads(invoked.stdout)
    model, _, _ = real_models.iris_classifier()
    assert body["model_version"] == 1
    assert body["predictions"] == model.predict(np.asarray(SAMPLE, np.float32)).tolist()


def test_wait_exits_2_on_timeout_and_1_on_rejection(cli, files, client_for, reviewer):
    cli("groups", "create", "iris")
    registered = cli(
        "--output",
        "json",
        "versions",
        "register",
        "iris",
        files["model"],
        "--no-progress",
    )
    assert json.loads(registered.stdout)["version"] == 1

    timed_out = cli(
        "versions",
        "wait",
        "iris",
        "1",
        "--until",
        "approved",
        "--timeout",
        "0.5",
        "--interval",
        "0.1",
    )
    assert timed_out.returncode == 2

    _approve(client_for, reviewer, 1, "reject")
    rejected = cli(
        "versions", "wait", "iris", "1", "--until", "approved", "--timeout", "10"
    )
    assert rejected.returncode == 1
    assert "Rejected" in rejected.stdout


def test_errors_are_clear_and_non_zero(cli, files, tmp_path):
    missing = cli("versions", "register", "nope", files["model"], "--no-progress")
    assert missing.returncode == 3
    assert "nope" in missing.stderr

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"definitely not a model")
    cli("groups", "create", "iris")
    refused = cli("versions", "register", "iris", str(bad), "--no-progress")
    assert refused.returncode == 3
    assert "artifact" in refused.stderr

    usage = cli("versions", "register", "iris", "/no/such/file")
    assert usage.returncode == 4


def test_a_read_only_token_cannot_register(web_server, files, make_user):
    robot = make_user("contributor")
    _, key = token_issue(user=robot, scopes=["read"])
    env = {**os.environ, "MODELREG_URL": web_server.url, "MODELREG_TOKEN": key}
    result = subprocess.run(
        [MODELREG, "groups", "create", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "403" in result.stderr


@pytest.fixture
def deployer_user(make_user):
    return make_user("deployer")


def services_group(name):
    from catalog.models import ModelGroup

    return ModelGroup.objects.get(name=name)
