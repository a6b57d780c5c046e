"""Issue 17: an MLflow ``source`` under an allowed ``s3://bucket/prefix`` is imported
with the registry's own S3 credentials, against a real S3-compatible server (moto's,
from PyPI) on loopback, the registry's artifact storage on S3."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.services import token_issue
from catalog.models import ModelVersion
from tests import models as real_models
from tests.conftest import own_registry
from tests.s3server import moto_s3, storage_env

pytestmark = pytest.mark.django_db(transaction=True)


STORE, ALLOWED = "registry-artifacts", "training"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: Any) -> Iterator[Any]:
    with moto_s3(tmp_path_factory.mktemp("moto"), (STORE, ALLOWED)) as client:
        yield client


@pytest.fixture(scope="module")
def registry(
    celery_worker_process: Any, s3: Any, tmp_path_factory: Any
) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("mlflow-s3-registry")
    with own_registry(
        celery_worker_process,
        folder,
        "mlflow-s3",
        **storage_env(s3, STORE),
        REGISTRY_MLFLOW_IMPORT_SOURCES=f"s3://{ALLOWED}/models",
    ) as server:
        yield server


@pytest.fixture
def client(registry: Any, contributor: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from mlflow import MlflowClient

    _, key = token_issue(user=contributor, scopes=["read", "write"])
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
    return MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)


def test_a_folder_under_an_allowed_prefix_is_imported(
    client: Any,
    s3: Any,
    tmp_path: Path,
) -> None:
    import mlflow.onnx
    import onnx

    folder = tmp_path / "model"
    mlflow.onnx.save_model(onnx.load_from_string(real_models.iris_onnx()), folder)
    local = {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
    }
    for path, data in local.items():
        s3.put_object(Bucket=ALLOWED, Key=f"models/iris/1/{path}", Body=data)
        s3.put_object(Bucket=ALLOWED, Key=f"elsewhere/iris/{path}", Body=data)
    client.create_registered_model("iris")

    imported = client.create_model_version(
        "iris", source=f"s3://{ALLOWED}/models/iris/1"
    )
    inert = client.create_model_version("iris", source=f"s3://{ALLOWED}/elsewhere/iris")

    assert client.get_model_version("iris", imported.version).status == "READY"
    version = ModelVersion.objects.get(group__name="iris", version=imported.version)
    assert {e["path"]: e["sha256"] for e in version.artifact_manifest} == {
        path: hashlib.sha256(data).hexdigest() for path, data in local.items()
    }
    stored = next(e for e in version.artifact_manifest if e["path"] == "model.onnx")
    body = s3.get_object(Bucket=STORE, Key=f"artifacts/{stored['key']}")["Body"]
    assert body.read() == local["model.onnx"]
    assert ModelVersion.objects.get(
        group__name="iris", version=inert.version
    ).artifact_absent
