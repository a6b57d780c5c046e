"""Issue 13: the limited child that checks and loads models cannot read the
registry's data folder (its secret key, its SQLite file) nor open TCP connections:
Landlock where the kernel has it, bubblewrap where it is installed (each method is
tested where this machine offers it; CI installs bubblewrap, so there it must work).
Real children, real files."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from django.conf import settings

from modelformats import LoadError, Trust, confine, load_and_warm_isolated, sandbox
from modelformats.served import ChildPredictor
from tests import models

# What the child gets for a registry file: Landlock refuses it; bubblewrap's mount
# namespace has no such file. And for a TCP connect: Landlock refuses it;
# bubblewrap's network namespace has only a loopback of its own, with nothing on it.
_HIDDEN = {"landlock": "PermissionError", "bubblewrap": "FileNotFoundError"}
_UNREACHABLE = {"landlock": "PermissionError", "bubblewrap": "ConnectionRefusedError"}


@pytest.fixture(autouse=True, params=["landlock", "bubblewrap"])
def confinement(request):  # type: ignore[no-untyped-def]
    """Each test once per confinement method, chosen as REGISTRY_SANDBOX would."""
    method = request.param
    if not confine.usable(method):
        if method == "bubblewrap" and os.environ.get("CI") == "true":
            pytest.fail("bubblewrap is not usable here, and CI installs it")
        pytest.skip(f"{method} is not available on this machine")
    confine.choose(method)
    yield method
    confine.choose(settings.REGISTRY_SANDBOX)


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
    tmp_path, monkeypatch, registry_files, confinement
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
        assert outcome.result[path] == _HIDDEN[confinement], path
    if confinement == "bubblewrap" or confine.available() >= 4:
        assert outcome.result[tcp] == _UNREACHABLE[confinement]


class _Opens:
    """Unpickles as ``open(path)``: a model file whose loading reads a file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "rb"))


@pytest.mark.parametrize("which", ["secret_key", "database"])
def test_a_model_whose_loading_opens_a_registry_file_gets_a_permission_error(
    tmp_path, which, registry_files, confinement
):
    files = registry_files
    target = files[0] if which == "secret_key" else files[-1]
    model, _, _ = models.iris_classifier()
    crafted = tmp_path / "crafted.pkl"
    crafted.write_bytes(pickle.dumps({"model": model, "reads": _Opens(target)}))

    with pytest.raises(LoadError, match=_HIDDEN[confinement]) as refused:
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


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in command:
                found.append(int(entry.name))
    return found


def test_a_serving_child_answers_like_the_model_and_ends_with_its_predictor(
    tmp_path, confinement
):
    model, x, _ = models.iris_classifier()
    path = tmp_path / "served-model.joblib"
    path.write_bytes(models.iris_joblib())
    predictor = ChildPredictor(
        str(path), "joblib", trust=Trust(pickle=True), memory=3 * 1024**3, timeout=60
    )
    try:
        assert _processes_with(str(path))  # the child (and bwrap) run
        outputs = predictor.predict(np.asarray(x[:5], dtype=np.float32))
        labels = next(iter(outputs.values()))
        assert list(labels) == list(model.predict(x[:5]))
    finally:
        predictor.close()
    # bwrap's own process and the child inside it are both gone.
    assert _processes_with(str(path)) == []


def test_a_confinement_the_machine_lacks_stops_the_service_from_starting(
    monkeypatch, settings, confinement
):
    from django.core.exceptions import ImproperlyConfigured

    from deployments import isolated_serving

    # As if bwrap were not installed.
    monkeypatch.setattr(confine, "_bwrap", None)
    monkeypatch.setattr(confine, "_bwrap_seen", True)
    settings.REGISTRY_SANDBOX = "bubblewrap"
    with pytest.raises(ImproperlyConfigured, match="REGISTRY_SANDBOX=bubblewrap"):
        isolated_serving.announce()
    with pytest.raises(OSError, match=r"'bubblewrap'.*not available"):
        sandbox.run("json.tool", [], timeout=10, memory=2 * 1024**3)
    settings.REGISTRY_SANDBOX = "auto"
    isolated_serving.announce()
    assert confine.method() == ("landlock" if confine.available() else "none")
