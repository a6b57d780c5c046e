"""Issue 17: which MLflow sources the registry may import from
(``REGISTRY_MLFLOW_IMPORT_SOURCES``), and the sweep that re-enqueues an import the
broker lost. The fetch itself runs against a stock MLflow server in
``tests/mlflow_api/test_import.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from catalog import imports, services
from catalog.models import ModelVersion

SERVER = "http://mlflow.internal:5000"
MODEL_ID = "m-0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def allowed(settings: Any) -> None:
    settings.REGISTRY_MLFLOW_IMPORT_SOURCES = [
        SERVER + "/",
        "s3://training/models",
        "ftp://ignored",
    ]
    settings.S3_BUCKET = "registry"


def test_a_logged_model_is_asked_of_every_allowed_server() -> None:
    expected = {"kind": "logged_model", "model_id": MODEL_ID, "servers": [SERVER]}
    assert imports.plan(f"models:/{MODEL_ID}", MODEL_ID) == expected
    assert imports.plan("", MODEL_ID) == expected
    assert imports.plan(f"models:/{MODEL_ID}") == expected


def test_run_proxy_and_s3_sources_under_allowed_locations() -> None:
    assert imports.plan("runs:/abc123/model") == {
        "kind": "run",
        "run_id": "abc123",
        "path": "model",
        "servers": [SERVER],
    }
    assert imports.plan("mlflow-artifacts:/1/models/m-1/artifacts") == {
        "kind": "proxy",
        "path": "1/models/m-1/artifacts",
        "servers": [SERVER],
    }
    assert imports.plan("mlflow-artifacts://mlflow.internal:5000/1/m")["path"] == "1/m"
    assert imports.plan(f"{SERVER}/api/2.0/mlflow-artifacts/artifacts/1/m") == {
        "kind": "proxy",
        "path": "1/m",
        "servers": [SERVER],
    }
    assert imports.plan("s3://training/models/churn/7") == {
        "kind": "s3",
        "bucket": "training",
        "prefix": "models/churn/7",
    }


@pytest.mark.parametrize(
    "source",
    [
        "models:/iris/1",  # a registry URI, not a logged model
        "models:/m-../../x",
        "runs:/abc/../../etc",
        "runs:/a b/model",
        "mlflow-artifacts:/../etc",
        "mlflow-artifacts:/1//x",
        "mlflow-artifacts://elsewhere:5000/1/m",
        "http://elsewhere:5000/api/2.0/mlflow-artifacts/artifacts/1/m",
        f"{SERVER}/etc/passwd",
        f"{SERVER}/api/2.0/mlflow-artifacts/artifacts/../x",
        "http://mlflow.internal:50000/api/2.0/mlflow-artifacts/artifacts/1/m",
        "s3://training/modelsx/churn",
        "s3://training/other/churn",
        "s3://elsewhere/models/churn",
        "file:///etc",
        "/etc/passwd",
        "",
        None,
        42,
    ],
)
def test_anything_else_stays_inert_text(source: Any) -> None:
    assert imports.plan(source) is None


def test_without_allowed_sources_nothing_is_imported(settings: Any) -> None:
    settings.REGISTRY_MLFLOW_IMPORT_SOURCES = []
    assert imports.plan(f"models:/{MODEL_ID}", MODEL_ID) is None
    assert imports.plan("runs:/abc/model") is None
    assert imports.plan("s3://training/models/churn") is None


@pytest.mark.django_db
def test_the_sweep_enqueues_a_stuck_folder_import_again(
    contributor: Any, make_group: Any, settings: Any
) -> None:
    settings.REGISTRY_MLFLOW_IMPORT_SOURCES = ["http://127.0.0.1:9"]  # nothing there
    group = make_group("stuck")
    version = services.version_register_from_source(
        actor=contributor, group=group, source_uri=f"models:/{MODEL_ID}"
    )
    assert version.registration_status == "Pending"
    old = timezone.now() - timedelta(hours=1)
    ModelVersion.objects.filter(pk=version.pk).update(updated_at=old)

    assert services.import_sweep() == 1
    assert ModelVersion.objects.get(pk=version.pk).updated_at > old
    assert services.import_sweep() == 0  # retried just now
