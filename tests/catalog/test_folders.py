"""Issue 17: a version's artifact may be a folder (an MLflow model), stored file by
file under server-made keys with a manifest and one digest over it."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog import folders, services
from catalog.models import ModelVersion, RegistrationStatus
from common.errors import Invalid
from deployments import backends
from modelformats import mlmodel
from tests import models as real_models

pytestmark = pytest.mark.django_db

PICKLED_SKLEARN = b"""\
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
"""


def onnx_folder(tmp_path: Path) -> dict[str, Any]:
    """The files ``mlflow.onnx.save_model`` writes for the iris model."""
    import mlflow.onnx
    import onnx

    target = tmp_path / "model"
    mlflow.onnx.save_model(onnx.load_from_string(real_models.iris_onnx()), target)
    return {
        str(p.relative_to(target)): SimpleUploadedFile(p.name, p.read_bytes())
        for p in sorted(target.rglob("*"))
        if p.is_file()
    }


def register(actor: Any, group: Any, files: dict[str, Any]) -> ModelVersion:
    return folders.version_register_folder(actor=actor, group=group, files=files)


def test_an_mlflow_onnx_folder_is_stored_with_a_manifest(
    make_group, contributor, tmp_path
):
    group = make_group("iris")
    files = onnx_folder(tmp_path)

    version = register(contributor, group, files)

    version.refresh_from_db()
    assert version.registration_status == RegistrationStatus.READY
    assert version.artifact_format == "onnx"
    assert version.artifact_filename == "model.onnx"
    assert sorted(e["path"] for e in version.artifact_manifest) == sorted(files)
    assert len({e["key"] for e in version.artifact_manifest}) == len(files)
    onnx_bytes = real_models.iris_onnx()
    assert version.artifact_sha256 == hashlib.sha256(onnx_bytes).hexdigest()
    assert version.manifest_sha256 == mlmodel.manifest_digest(version.artifact_manifest)


def test_a_folder_version_loads_in_the_deployment_check(
    make_group, contributor, tmp_path
):
    version = register(contributor, make_group("iris"), onnx_folder(tmp_path))

    report = backends.builtin_check(version, lambda line: None)

    assert report


def test_a_tampered_manifest_stops_the_deployment(make_group, contributor, tmp_path):
    version = register(contributor, make_group("iris"), onnx_folder(tmp_path))
    version.artifact_manifest[0]["size"] += 1

    with pytest.raises(backends.PermanentError, match="manifest"):
        backends.folder_model_check(version)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"model.onnx": b"x"}, "MLmodel"),
        ({"MLmodel": b"flavors: [1"}, "YAML"),
        ({"MLmodel": b"flavors:\n  onnx:\n    data: gone.onnx\n"}, "not in the folder"),
        ({"MLmodel": PICKLED_SKLEARN, "model.pkl": b"\x80\x04N."}, "pickle"),
        ({"MLmodel": b"flavors:\n  onnx:\n    data: ../x\n"}, "relative"),
        ({"../MLmodel": b"x"}, "relative"),
    ],
)
def test_a_folder_the_registry_cannot_check_is_refused_naming_files(
    make_group, contributor, files, message
):
    group = make_group("iris")
    uploads = {k: SimpleUploadedFile("f", v) for k, v in files.items()}

    with pytest.raises(Invalid, match=message) as caught:
        register(contributor, group, uploads)

    assert "files" in caught.value.fields
    assert not ModelVersion.objects.exists()


def test_a_model_file_whose_bytes_are_not_its_flavour_is_refused(
    make_group, contributor
):
    mlmodel_text = b"flavors:\n  onnx:\n    data: model.onnx\n"
    uploads = {
        "MLmodel": SimpleUploadedFile("MLmodel", mlmodel_text),
        "model.onnx": SimpleUploadedFile("model.onnx", real_models.iris_skops()),
    }

    with pytest.raises(Invalid, match="bytes are skops"):
        register(contributor, make_group("iris"), uploads)


def test_a_pickle_flavour_is_accepted_when_the_group_allows_pickle(
    make_group, contributor, admin_user
):
    group = make_group("iris")
    services.group_pickle_policy_set(actor=admin_user, group=group, allow=True)
    uploads = {
        "MLmodel": SimpleUploadedFile("MLmodel", PICKLED_SKLEARN),
        "model.pkl": SimpleUploadedFile("model.pkl", real_models.iris_pickle()),
    }

    version = register(contributor, group, uploads)

    assert version.artifact_format == "pickle"


def test_the_api_shows_the_manifest_and_serves_each_file(
    make_group, contributor, client_for, tmp_path
):
    files = onnx_folder(tmp_path)
    register(contributor, make_group("iris"), files)
    api = client_for(contributor)
    base = "/api/v1/model-groups/iris/versions/1"

    artifact = api.get(f"{base}/").json()["artifact"]
    answer = api.get(f"{base}/files/MLmodel")
    missing = api.get(f"{base}/files/nope.txt")

    assert sorted(f["path"] for f in artifact["files"]) == sorted(files)
    assert all("key" not in f for f in artifact["files"])
    assert len(artifact["manifest_sha256"]) == 64
    assert answer.status_code == 200
    files["MLmodel"].seek(0)
    assert b"".join(answer.streaming_content) == files["MLmodel"].read()
    assert missing.status_code == 404


def test_a_single_file_version_shows_no_manifest(make_group, contributor, client_for):
    services.version_register(
        actor=contributor,
        group=make_group("iris"),
        artifact=SimpleUploadedFile("iris.onnx", real_models.iris_onnx()),
    )

    artifact = (
        client_for(contributor).get("/api/v1/model-groups/iris/versions/1/").json()
    )

    assert "files" not in artifact["artifact"]
    assert "manifest_sha256" not in artifact["artifact"]


def test_the_leftover_sweep_keeps_every_file_of_a_folder_version(
    make_group, contributor, tmp_path, artifact_root, settings
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    version = register(contributor, make_group("iris"), onnx_folder(tmp_path))
    stored = [artifact_root / entry["key"] for entry in version.artifact_manifest]
    for path in stored:
        os.utime(path, (time.time() - 7200, time.time() - 7200))

    swept = services.artifact_sweep(grace=timedelta(hours=1))

    assert swept["artifacts"] == 0
    assert all(path.exists() for path in stored)


@pytest.mark.django_db(transaction=True)
def test_deleting_a_folder_version_removes_all_its_files(
    make_group, contributor, tmp_path, artifact_root
):
    version = register(contributor, make_group("iris"), onnx_folder(tmp_path))
    stored = [artifact_root / entry["key"] for entry in version.artifact_manifest]
    assert len(stored) > 1 and all(path.exists() for path in stored)

    services.version_delete(actor=contributor, version=version)

    assert not any(path.exists() for path in stored)


def test_a_file_lost_by_the_storage_is_a_clear_404(
    make_group, contributor, client_for, tmp_path, artifact_root
):
    version = register(contributor, make_group("iris"), onnx_folder(tmp_path))
    lost = next(e for e in version.artifact_manifest if e["path"] == "MLmodel")
    (artifact_root / lost["key"]).unlink()
    api = client_for(contributor)

    answer = api.get("/api/v1/model-groups/iris/versions/1/files/MLmodel")
    proxy = api.get("/api/2.0/mlflow-artifacts/artifacts/models/iris/1/MLmodel")

    assert answer.status_code == 404
    assert "missing from the artifact storage" in answer.text
    assert proxy.status_code == 404
    assert proxy.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def _parts(files: dict[str, Any]) -> dict[str, Any]:
    return {f"file:{path}": upload for path, upload in files.items()}


def test_a_folder_is_uploaded_as_one_part_per_file(
    make_group, contributor, client_for, tmp_path
):
    make_group("iris")
    files = onnx_folder(tmp_path)

    answer = client_for(contributor).post(
        "/api/v1/model-groups/iris/versions/",
        {**_parts(files), "description": "from a folder"},
        format="multipart",
    )

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert sorted(f["path"] for f in body["artifact"]["files"]) == sorted(files)
    assert body["description"] == "from a folder"
    assert ModelVersion.objects.get(group__name="iris").is_folder


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"artifact": "model"}, "artifact"),
        ({"sha256": "0" * 64}, "sha256"),
        ({"file:../escape.txt": "x"}, "files"),
    ],
)
def test_a_bad_folder_upload_is_refused_naming_the_field(
    make_group, contributor, client_for, tmp_path, extra, field
):
    make_group("iris")
    parts: dict[str, Any] = _parts(onnx_folder(tmp_path))
    for name, value in extra.items():
        parts[name] = (
            value
            if name == "sha256"
            else SimpleUploadedFile(
                "x", real_models.iris_onnx() if name == "artifact" else b"x"
            )
        )

    answer = client_for(contributor).post(
        "/api/v1/model-groups/iris/versions/", parts, format="multipart"
    )

    assert answer.status_code == 400, answer.content
    assert field in answer.content.decode()
    assert not ModelVersion.objects.filter(group__name="iris").exists()


def test_an_upload_without_a_file_names_the_artifact_field(
    make_group, contributor, client_for
):
    make_group("iris")

    answer = client_for(contributor).post(
        "/api/v1/model-groups/iris/versions/", {"description": "x"}, format="multipart"
    )

    assert answer.status_code == 400
    assert "artifact" in answer.json()["error"]["fields"]
