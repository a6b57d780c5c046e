"""The CI examples in docs/ci run as written: their train, register, wait and invoke
commands, read from the YAML files, against the real server and worker."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from accounts.services import token_issue
from approvals.services import review_submit
from catalog.models import ModelVersion
from catalog.services import group_create
from deployments import services as deploy
from tests.helpers import wait_for
from tests.server import free_port
from webhooks.models import Delivery, DeliveryStatus
from webhooks.services import subscription_create

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "ci"
RECEIVER_SECRET = "whsec-ci-example-0123456789"
STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")


def _bash(script: str, env: dict[str, str], cwd: Path) -> str:
    assert "${{" not in script, f"unknown expression in {script!r}"
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _is_install(script: str) -> bool:
    """The example's own install of the package; the tests run the checkout's."""
    return script.startswith("pip install")


def github_actions(env: dict[str, str], cwd: Path, registered: Callable) -> str:
    (job,) = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())[
        "jobs"
    ].values()
    outputs: dict[tuple[str, str], str] = {}
    output_file = cwd / "github-output"
    env = {
        **env,
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_REF_NAME": "main",
        "GITHUB_SHA": "0123abcd",
        "GITHUB_SERVER_URL": "https://github.example.com",
        "GITHUB_REPOSITORY": "ml/iris",
        "GITHUB_RUN_ID": "41",
        "GITHUB_RUN_ATTEMPT": "1",
    }
    stdout = ""
    for step in job["steps"]:
        if "run" not in step or _is_install(step["run"]):
            continue
        output_file.write_text("")
        script = STEP_OUTPUT.sub(lambda m: outputs[m[1], m[2]], step["run"])
        stdout = _bash(script, env, cwd)
        for line in output_file.read_text().splitlines():
            name, _, value = line.partition("=")
            outputs[step.get("id", ""), name] = value
        if "versions register" in script:
            registered()
    return stdout


def gitlab_ci(env: dict[str, str], cwd: Path, registered: Callable) -> str:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    env = {
        **env,
        "CI_COMMIT_SHA": "0123abcd",
        "CI_PIPELINE_ID": "41",
        "CI_PROJECT_URL": "https://gitlab.example.com/ml/iris",
    }
    assert all(_is_install(line) for line in pipeline["before_script"])
    stdout = ""
    for stage in pipeline["stages"]:
        for job in pipeline.values():
            if isinstance(job, dict) and job.get("stage") == stage:
                script = "\n".join(job["script"])
                stdout = _bash(script, env, cwd)
                if "versions register" in script:
                    registered()
    return stdout


@pytest.mark.parametrize("pipeline", [github_actions, gitlab_ci])
def test_the_ci_example_trains_registers_waits_and_invokes(
    pipeline, worker, web_server, make_user, tmp_path
):
    robot, reviewer, deployer = (
        make_user(role) for role in ("contributor", "reviewer", "deployer")
    )
    group = group_create(actor=robot, name="iris-classifier")
    deploy.endpoint_create(actor=deployer, name="iris-classifier-prod", group=group)
    _, key = token_issue(user=robot, scopes=["read", "write", "invoke"])
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MODELREG_URL": web_server.url,
        "MODELREG_TOKEN": key,
    }
    (tmp_path / "docs").symlink_to(REPO / "docs")  # the examples run from a checkout

    def approve() -> None:
        version = ModelVersion.objects.get(group=group)
        review_submit(actor=reviewer, version=version, decision="approve")

    lines = pipeline(env, tmp_path, approve).splitlines()
    answer = json.loads("\n".join(lines[lines.index("{") :]))  # the invocation

    version = ModelVersion.objects.get(group=group)
    assert answer["model_version"] == version.version == 1
    assert len(answer["predictions"]) == 2
    assert version.lineage["commit"] == "0123abcd"


@pytest.fixture
def documented_receiver(tmp_path):
    """docs/ci/webhook_receiver.py running as its README says, on a free port."""
    port = free_port()
    log = tmp_path / "receiver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "webhook_receiver.py"), str(port)],
            env={
                **os.environ,
                "WEBHOOK_SECRET": RECEIVER_SECRET,
                "PYTHONUNBUFFERED": "1",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for(lambda: _accepts(port), timeout=20, message="the receiver to listen")
    yield {"url": f"http://127.0.0.1:{port}/", "log": log}
    process.terminate()
    process.wait(timeout=10)


def test_the_documented_receiver_verifies_a_delivery_from_the_real_worker(
    worker, cli, files, make_user, documented_receiver
):
    deployer = make_user("deployer")
    subscription_create(
        actor=deployer,
        url=documented_receiver["url"],
        events=["version.registered"],
        secret=RECEIVER_SECRET,
    )
    assert cli("groups", "create", "iris").returncode == 0
    assert cli("versions", "register", "iris", files["model"]).returncode == 0

    delivery = wait_for(
        lambda: Delivery.objects.exclude(status=DeliveryStatus.PENDING).first(),
        timeout=60,
        message="the delivery",
    )
    assert delivery.status == DeliveryStatus.SUCCEEDED, delivery.attempts
    assert delivery.attempt_log.get().status_code == 204  # signature accepted
    assert "version.registered" in documented_receiver["log"].read_text()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
