"""Issue 13: a model the registry does not trust as data (pickle, in a group whose
admin allowed it) is never loaded in a web process: the gunicorn worker serves it
from a limited child of its own, which cannot read the secret key."""

from __future__ import annotations

import copy
import glob
import os
import pickle
import signal
import tempfile
import uuid
from pathlib import Path

import pytest
import requests

from accounts import services as accounts
from deployments import services as deploy
from deployments.models import DeploymentStatus
from modelformats import confine
from tests import models
from tests.helpers import SAMPLE

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD = """
import os
where = os.environ.get("TMPDIR") or {fallback!r}
try:
    open({secret!r}, "rb").read()
    secret = "read"
except OSError as exc:
    secret = type(exc).__name__
with open(os.path.join(where, {marker!r}), "a") as out:
    out.write(f"{{os.getpid()}} {{secret}}\\n")
"""


class _Payload:
    """Runs ``code`` wherever the model is unpickled (and becomes None)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (self.code,))


def _children(pid: int) -> list[int]:
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


@pytest.mark.skipif(
    confine.method() == "none", reason="neither Landlock nor bubblewrap is available"
)
def test_a_pickle_model_runs_only_in_its_serving_child(
    worker,
    deployer,
    iris_group,
    register_version,
    approve_and_deploy,
    viewer,
    web_server,
    tmp_path,
):
    iris_group.allow_pickle = True
    iris_group.save(update_fields=["allow_pickle"])
    # A name the session's server has never served: after an earlier test's data
    # was flushed, a reused version id could find that test's model still loaded.
    name = f"pickle-{uuid.uuid4().hex[:12]}"
    deploy.endpoint_create(actor=deployer, name=name, group=iris_group)
    secret = str(Path(web_server.env["REGISTRY_DATA_DIR"]) / "secret_key")
    assert os.access(secret, os.R_OK)
    marker = f"marker-{uuid.uuid4().hex}"
    model, _, _ = models.iris_classifier()
    model = copy.deepcopy(model)
    model.payload_ = _Payload(
        PAYLOAD.format(fallback=str(tmp_path), secret=secret, marker=marker)
    )
    version = register_version(pickle.dumps(model, protocol=5))
    assert version.artifact_format == "pickle"
    deployment = approve_and_deploy(version)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error

    key = accounts.token_issue(user=viewer)[1]
    url = f"{web_server.url}/api/v1/endpoints/{name}/invocations"
    headers = {"Authorization": f"Token {key}"}
    for _ in range(3):
        answer = requests.post(
            url, json={"inputs": SAMPLE}, headers=headers, timeout=60
        )
        assert answer.ok, (answer.text, web_server.log_tail())

    workers = _children(web_server.process.pid)
    serving_children = {c for w in workers for c in _children(w)}
    assert workers and serving_children
    roots = {tempfile.gettempdir(), "/tmp", str(tmp_path)}
    found = [
        line.split()
        for root in roots
        for path in glob.glob(f"{root}/**/{marker}", recursive=True)
        for line in Path(path).read_text().splitlines()
    ]
    ran_in = {int(pid) for pid, _ in found}
    assert ran_in, "the payload ran nowhere it could leave a marker"
    assert not ran_in & {web_server.process.pid, *workers}, (ran_in, workers)
    assert ran_in & serving_children, (ran_in, serving_children)
    assert {secret_seen for _, secret_seen in found} == {"PermissionError"}
    assert not Path(tmp_path, marker).exists()  # no unconfined process ran it

    # A serving child that dies is started again by the next request it would answer.
    for child in serving_children:
        os.kill(child, signal.SIGKILL)
    for _ in range(6):
        answer = requests.post(
            url, json={"inputs": SAMPLE}, headers=headers, timeout=60
        )
        assert answer.ok, (answer.text, web_server.log_tail())
    restarted = {c for w in _children(web_server.process.pid) for c in _children(w)}
    assert restarted - serving_children  # new children (the old may linger as zombies)
