"""The ``modelreg`` console script end to end against the server `make run` starts (gunicorn) and a real worker."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import struct
import subprocess
import termios
import time
from pathlib import Path

import numpy as np
import pytest

from accounts.services import token_issue
from catalog import services as catalog
from catalog.models import ModelGroup
from deployments import services as deploy
from tests import models as real_models
from tests.cli.helpers import MODELREG
from tests.helpers import SAMPLE
from tests.signatures import make_key, sign

pytestmark = pytest.mark.django_db(transaction=True)


def _approve(client_for, reviewer, number: int, decision: str = "approve") -> None:
    response = client_for(reviewer).post(
        f"/api/v1/model-groups/iris/versions/{number}/reviews/",
        {"decision": decision, "comment": "checked"},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_register_wait_deploy_and_invoke(
    worker, cli, files, client_for, reviewer, deployer
):
    assert cli("groups", "create", "iris", "--tag", "team=ml").returncode == 0
    deploy.endpoint_create(
        actor=deployer, name="iris-prod", group=services_group("iris")
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


def services_group(name):
    from catalog.models import ModelGroup

    return ModelGroup.objects.get(name=name)


def test_register_uploads_to_gunicorn_with_a_progress_bar(cli, files):
    """Regression (issue 10): the upload sent Content-Length and chunked encoding
    together, and gunicorn answered 400."""
    cli("groups", "create", "iris")
    terminal, terminal_side = os.openpty()  # the bar is drawn only on a terminal
    fcntl.ioctl(terminal_side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        registered = cli(
            "--output",
            "json",
            "versions",
            "register",
            "iris",
            files["model"],
            stdout=subprocess.PIPE,
            stderr=terminal_side,
        )
        os.close(terminal_side)
        bar = _read_all(terminal)
    finally:
        os.close(terminal)

    assert registered.returncode == 0, bar
    artifact = json.loads(registered.stdout)["artifact"]
    content = Path(files["model"]).read_bytes()
    assert artifact["sha256"] == hashlib.sha256(content).hexdigest()
    assert artifact["size"] == len(content)
    assert "upload" in bar
    assert "100%" in bar


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side of the terminal is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_register_carries_a_model_signature(cli, files, tmp_path, admin_user):
    trusted, public = make_key(tmp_path, "trusted")
    stranger, _ = make_key(tmp_path, "stranger")
    cli("groups", "create", "iris")
    group = ModelGroup.objects.get(name="iris")
    catalog.trusted_key_add(
        actor=admin_user, group=group, name="ci-release", public_key_pem=public
    )
    catalog.group_signature_policy_set(actor=admin_user, group=group, require=True)
    model = Path(files["model"]).read_bytes()
    untrusted_sig = tmp_path / "untrusted.sig"
    untrusted_sig.write_bytes(sign(tmp_path, model, stranger))
    trusted_sig = tmp_path / "trusted.sig"
    trusted_sig.write_bytes(sign(tmp_path, model, trusted))

    refused = cli(
        "versions", "register", "iris", files["model"], "--no-progress",
        "--signature", str(untrusted_sig),
    )  # fmt: skip
    registered = cli(
        "--output", "json", "versions", "register", "iris", files["model"],
        "--no-progress", "--signature", str(trusted_sig),
    )  # fmt: skip

    assert refused.returncode == 3, refused.stderr
    assert "model_signature" in refused.stderr
    assert registered.returncode == 0, registered.stderr
    body = json.loads(registered.stdout)
    assert body["version"] == 1
    assert body["signature"] == {"status": "verified", "key": "ci-release"}


def test_register_uploads_an_mlflow_model_folder(cli, tmp_path):
    """Issue 17: a folder goes as one part per file to the real server, and comes
    back file by file with the digests of its manifest."""
    import mlflow.onnx
    import onnx

    folder = tmp_path / "model"
    mlflow.onnx.save_model(onnx.load_from_string(real_models.iris_onnx()), folder)
    local = {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
    }
    cli("groups", "create", "iris")

    registered = cli(
        "--output", "json", "versions", "register", "iris", str(folder), "--no-progress"
    )
    refused = cli("versions", "register", "iris", str(folder), "--sha256", "0" * 64)

    assert registered.returncode == 0, registered.stderr
    artifact = json.loads(registered.stdout)["artifact"]
    assert {f["path"]: f["sha256"] for f in artifact["files"]} == {
        path: hashlib.sha256(data).hexdigest() for path, data in local.items()
    }
    assert artifact["sha256"] == hashlib.sha256(local["model.onnx"]).hexdigest()
    assert refused.returncode != 0 and "folder" in refused.stderr
