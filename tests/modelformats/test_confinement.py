"""Issue 13: the limited child that checks and loads models cannot read the
registry's data folder (its secret key, its SQLite file) nor open TCP connections:
Landlock, where the kernel has it. Real children, real files."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from modelformats import LoadError, Trust, confine, load_and_warm_isolated, sandbox
from tests import models

pytestmark = pytest.mark.skipif(
    not confine.available(), reason="Landlock is not available on this kernel"
)


@pytest.fixture
def registry_files(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The secret and signing keys, and a real SQLite database file in the data
    folder (the configured one where it exists): all readable by the service."""
    data = Path(settings.DATA_DIR)
    files = [str(data / "secret_key"), str(data / "signing_key.pem")]
    database = settings.DATABASES["default"]
    name = str(database["NAME"])
    made = None
    if database["ENGINE"].endswith("sqlite3") and Path(name).is_file():
        files.append(name)
    else:
        made = data / f"probe-{os.getpid()}.sqlite3"
        sqlite3.connect(made).execute("create table t (x)").connection.commit()
        files.append(str(made))
    for path in files:
        assert os.access(path, os.R_OK), path  # the service itself reads it
    yield files
    if made is not None:
        made.unlink()


def test_a_check_job_cannot_read_the_secret_key_nor_the_database(
    tmp_path, monkeypatch, registry_files
):
    # The child module in a folder of its own on the import path, read by the child.
    code = tmp_path / "code"
    code.mkdir()
    here = Path(__file__).resolve().parent
    (code / "child_reads.py").write_text((here / "child_reads.py").read_text())
    monkeypatch.syspath_prepend(str(code))
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"the artifact")
    files = registry_files
    redis = urlsplit(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    tcp = f"{redis.hostname}:{redis.port or 6379}"

    outcome = sandbox.run(
        "child_reads",
        [],
        stdin=json.dumps({"paths": [str(artifact), *files], "connect": [tcp]}).encode(),
        timeout=60,
        memory=2 * 1024**3,
        files=[str(artifact)],
        read=[str(code)],
    )

    assert outcome.result is not None, outcome.stderr_tail
    assert outcome.result[str(artifact)] == "read"
    for path in files:
        assert outcome.result[path] == "PermissionError", path
    if confine.available() >= 4:
        assert outcome.result[tcp] == "PermissionError"


class _Opens:
    """Unpickles as ``open(path)``: a model file whose loading reads a file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "rb"))


@pytest.mark.parametrize("which", ["secret_key", "database"])
def test_a_model_whose_loading_opens_a_registry_file_gets_a_permission_error(
    tmp_path, which, registry_files
):
    files = registry_files
    target = files[0] if which == "secret_key" else files[-1]
    model, _, _ = models.iris_classifier()
    crafted = tmp_path / "crafted.pkl"
    crafted.write_bytes(pickle.dumps({"model": model, "reads": _Opens(target)}))

    with pytest.raises(LoadError, match="PermissionError") as refused:
        load_and_warm_isolated(
            str(crafted),
            "pickle",
            trust=Trust(pickle=True),
            payload=None,
            timeout=60,
            memory=3 * 1024**3,
        )
    assert target in str(refused.value)


def test_the_child_loads_and_warms_every_accepted_format(tmp_path):
    for name, fmt, content in [
        ("m.onnx", "onnx", models.iris_onnx()),
        ("m.skops", "skops", models.iris_skops()),
        ("m.joblib", "joblib", models.iris_joblib()),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        report = load_and_warm_isolated(
            str(path),
            fmt,
            trust=Trust(pickle=True),
            payload=None,
            timeout=60,
            memory=3 * 1024**3,
        )
        assert report["outputs"], fmt
