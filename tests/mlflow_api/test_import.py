"""Issue 17: the real two-server setup. A stock ``mlflow server --serve-artifacts``
(started here on loopback) is the tracking server and this registry the registry
URI: ``log_model(registered_model_name=...)`` registers a version here, the import
task fetches the logged model's files from the allowed tracking server, and
``mlflow.pyfunc.load_model("models:/iris@champion")`` loads the verified files
from this registry. The registry and its worker run with
``REGISTRY_MLFLOW_IMPORT_SOURCES`` naming that server, on a queue of their own."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from accounts.services import token_issue
from approvals.services import review_submit
from catalog import selectors
from catalog.models import ModelVersion
from tests import models as real_models
from tests.conftest import own_registry
from tests.helpers import SAMPLE
from tests.server import HOST, free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: Any) -> Iterator[Any]:
    """A stock MLflow tracking server with its artifact proxy, stopped at the end."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (folder / "server.log").open("ab")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder}/mlflow.db",
            "--serve-artifacts",
            "--artifacts-destination",
            str(folder / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                "mlflow server did not start: "
                + (folder / "server.log").read_text()[-3000:]
            )
        time.sleep(0.3)
    process.url = url  # type: ignore[attr-defined]
    process.artifacts = folder / "artifacts"  # type: ignore[attr-defined]
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def registry(
    celery_worker_process: Any, tracking: Any, tmp_path_factory: Any
) -> Iterator[Any]:
    """The registry (gunicorn) and a worker allowed to import from ``tracking``."""
    folder = tmp_path_factory.mktemp("mlflow-registry")
    with own_registry(
        celery_worker_process,
        folder,
        "mlflow",
        REGISTRY_MLFLOW_IMPORT_SOURCES=tracking.url,
    ) as server:
        yield server


@pytest.fixture
def pipeline(
    registry: Any, tracking: Any, contributor: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The ``mlflow`` module as a training pipeline sets it up: tracking on the
    MLflow server, registry here, a contributor's token."""
    import mlflow

    _, key = token_issue(user=contributor, scopes=["read", "write"])
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
    mlflow.set_tracking_uri(tracking.url)
    mlflow.set_registry_uri(registry.url)
    yield mlflow
    mlflow.set_registry_uri(None)
    mlflow.set_tracking_uri(None)


def _iris_onnx_model() -> Any:
    import onnx

    return onnx.load_from_string(real_models.iris_onnx())


def _stored_model_file(tracking: Any, name: str) -> bytes:
    found = list(tracking.artifacts.rglob(name))
    assert len(found) == 1, found
    return found[0].read_bytes()


def test_log_model_registers_imports_and_loads_from_here(
    pipeline: Any, tracking: Any, registry: Any, reviewer: Any, tmp_path: Path
) -> None:
    mlflow = pipeline
    with mlflow.start_run():
        logged = mlflow.onnx.log_model(
            _iris_onnx_model(), name="model", registered_model_name="iris"
        )

    assert str(logged.registered_model_version) == "1"
    version = ModelVersion.objects.get(group__name="iris", version=1)
    assert version.registration_status == "Ready"
    assert version.source_uri == f"models:/{logged.model_id}"
    paths = {entry["path"] for entry in version.artifact_manifest}
    assert {"MLmodel", "model.onnx"} <= paths
    onnx_bytes = _stored_model_file(tracking, "model.onnx")
    assert version.artifact_sha256 == hashlib.sha256(onnx_bytes).hexdigest()
    assert version.artifact_format == "onnx"
    described = mlflow.MlflowClient().get_model_version("iris", "1")
    assert described.status == "READY"
    assert version.manifest_sha256 in described.status_message

    # A protected alias waits for approval, then the champion loads from here,
    # with the tracking server out of the way.
    client = mlflow.MlflowClient()
    with pytest.raises(mlflow.MlflowException, match="Approved"):
        client.set_registered_model_alias("iris", "champion", "1")
    review_submit(
        actor=reviewer, version=selectors.version_get("iris", 1), decision="approve"
    )
    client.set_registered_model_alias("iris", "champion", "1")
    mlflow.set_tracking_uri(f"http://{HOST}:{free_port()}")
    model = mlflow.pyfunc.load_model("models:/iris@champion", dst_path=str(tmp_path))

    predicted = model.predict(np.array(SAMPLE, dtype=np.float32))
    labels = predicted["label"] if isinstance(predicted, dict) else predicted
    expected = real_models.iris_classifier()[0].predict(np.array(SAMPLE, np.float32))
    assert list(np.asarray(labels).ravel()) == list(expected)
    assert (tmp_path / "model.onnx").read_bytes() == onnx_bytes


def test_an_unknown_logged_model_fails_the_registration_with_the_reason(
    pipeline: Any, tracking: Any
) -> None:
    client = pipeline.MlflowClient()
    client.create_registered_model("ghost")
    with pytest.raises(pipeline.MlflowException, match="FAILED_REGISTRATION"):
        # The stock client waits while the version is PENDING_REGISTRATION.
        client.create_model_version(
            "ghost", source="models:/m-0123456789abcdef", model_id="m-0123456789abcdef"
        )

    described = client.get_model_version("ghost", "1")

    assert described.status == "FAILED_REGISTRATION"
    assert "m-0123456789abcdef" in described.status_message
    assert tracking.url in described.status_message
    with pytest.raises(pipeline.MlflowException, match="no verified files"):
        client.get_model_version_download_uri("ghost", "1")


def test_sklearn_imports_as_skops_and_a_pickle_flavour_fails_with_the_reason(
    pipeline: Any,
) -> None:
    model, _, _ = real_models.iris_classifier()
    with pipeline.start_run():
        pipeline.sklearn.log_model(model, name="model", registered_model_name="safe")
    safe = ModelVersion.objects.get(group__name="safe", version=1)
    assert (safe.registration_status, safe.artifact_format) == ("Ready", "skops")

    with pipeline.start_run(), pytest.raises(pipeline.MlflowException, match="ickle"):
        pipeline.sklearn.log_model(
            model,
            name="model",
            registered_model_name="risky",
            serialization_format=pipeline.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        )

    version = ModelVersion.objects.get(group__name="risky", version=1)
    assert version.registration_status == "Failed"
    assert "ickle" in version.registration_error
    assert not version.artifact_key
    assert not version.has_verified_bytes


def test_sources_not_allowed_stay_inert_text(pipeline: Any, tracking: Any) -> None:
    client = pipeline.MlflowClient()
    client.create_registered_model("inert")
    elsewhere = f"http://{HOST}:{free_port()}/api/2.0/mlflow-artifacts/artifacts/x"
    for source in (
        elsewhere,
        "s3://not-allowed/model",
        "file:///etc",
        f"{tracking.url}/etc/passwd",
        "mlflow-artifacts:/../../etc",
    ):
        created = client.create_model_version("inert", source=source)
        assert created.status == "READY"
        assert "without files" in created.status_message

    assert set(
        ModelVersion.objects.filter(group__name="inert").values_list(
            "registration_status", flat=True
        )
    ) == {"Absent"}


def test_a_run_folder_and_a_proxy_uri_are_imported_with_subfolders(
    pipeline: Any, tmp_path: Path
) -> None:
    import mlflow.onnx

    folder = tmp_path / "model"
    mlflow.onnx.save_model(_iris_onnx_model(), folder)
    (folder / "extra" / "deeper").mkdir(parents=True)
    (folder / "extra" / "deeper" / "notes.txt").write_text("trained on iris\n")
    with pipeline.start_run() as run:
        pipeline.log_artifacts(str(folder), "exported/model")
    client = pipeline.MlflowClient()
    client.create_registered_model("runs")

    by_run = client.create_model_version(
        "runs",
        source=f"runs:/{run.info.run_id}/exported/model",
        run_id=run.info.run_id,
    )
    by_proxy = client.create_model_version(
        "runs", source=f"{run.info.artifact_uri}/exported/model"
    )

    # The stock client waited while they were PENDING_REGISTRATION.
    assert {
        client.get_model_version("runs", made.version).status
        for made in (by_run, by_proxy)
    } == {"READY"}
    first, second = ModelVersion.objects.filter(group__name="runs").order_by("version")
    local = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }
    assert {e["path"]: e["sha256"] for e in first.artifact_manifest} == local
    assert first.manifest_sha256 == second.manifest_sha256
    assert "extra/deeper/notes.txt" in local
