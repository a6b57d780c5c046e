"""Issue 17: which MLflow sources the registry may import from
(``REGISTRY_MLFLOW_IMPORT_SOURCES``), and the sweep that re-enqueues an import the
broker lost. The fetch itself runs against a stock MLflow server in
``tests/mlflow_api/test_import.py``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


class _Hostile(BaseHTTPRequestHandler):
    """A tracking server that misbehaves: endless folders, a huge file, a redirect."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = parse_qs(url.query).get("path", [""])[0]
        if url.path.endswith("/artifacts") and path.startswith("deep"):
            self._json({"files": [{"path": "again", "is_dir": True}]})
        elif url.path.endswith("/artifacts") and path.startswith("huge"):
            self._json({"files": [{"path": "model.onnx", "is_dir": False}]})
        elif url.path.endswith("/model.onnx"):
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            self.wfile.write(b"x" * (1 << 20))
        else:
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _json(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def hostile(settings: Any) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    settings.REGISTRY_MLFLOW_IMPORT_SOURCES = [url]
    yield url
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("mlflow-artifacts:/deep", "nested deeper than"),
        ("mlflow-artifacts:/huge", "larger than the registry's limit"),
        ("runs:/abc/model", "answered 302"),
    ],
)
def test_a_misbehaving_server_ends_the_import_within_bounds(
    hostile: str, settings: Any, tmp_path: Any, source: str, reason: str
) -> None:
    settings.REGISTRY_MAX_ARTIFACT_SIZE = 1000
    (tmp_path / "uploads").mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    plan = imports.plan(source)
    assert plan is not None

    with pytest.raises(imports.ImportFailed, match=reason), imports.fetched(plan):
        pass
    assert list((tmp_path / "uploads").iterdir()) == []  # nothing left behind
