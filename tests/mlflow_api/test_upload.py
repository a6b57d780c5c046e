"""Issue 17: the artifact proxy's upload. The stock client's
``HttpArtifactRepository`` logs a model folder file by file into an upload batch of
this registry, and ``create_model_version(source=<the batch's URL>)`` registers it,
checked and stored like any folder; a batch is its uploader's alone."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import requests

from accounts.services import token_issue
from catalog.models import ModelVersion
from tests import models as real_models

pytestmark = pytest.mark.django_db(transaction=True)

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def saved_model(tmp_path: Path) -> Path:
    import mlflow.onnx
    import onnx

    folder = tmp_path / "model"
    mlflow.onnx.save_model(onnx.load_from_string(real_models.iris_onnx()), folder)
    (folder / "extra").mkdir()
    (folder / "extra" / "notes.txt").write_text("trained on iris\n")
    return folder


def hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_a_folder_logged_through_the_proxy_becomes_a_version(
    mlflow: Any, web_server: Any, tmp_path: Path
) -> None:
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    folder = saved_model(tmp_path)
    batch = f"{web_server.url}{PROXY}/uploads/iris-run-7"
    repo = HttpArtifactRepository(batch)
    repo.log_artifacts(str(folder))
    listed = {f.path: f.is_dir for f in repo.list_artifacts()}
    mlflow.create_registered_model("iris")

    created = mlflow.create_model_version("iris", source=batch)

    assert listed["MLmodel"] is False and listed["extra"] is True
    assert created.status == "READY"
    version = ModelVersion.objects.get(group__name="iris", version=1)
    assert {e["path"]: e["sha256"] for e in version.artifact_manifest} == hashes(folder)
    assert version.artifact_format == "onnx" and version.source_uri == batch
    assert repo.list_artifacts() == []  # the batch is gone once registered
    fetched = downloaded(mlflow, tmp_path)
    assert hashes(fetched) == hashes(folder)


def downloaded(client: Any, tmp_path: Path) -> Path:
    import mlflow.artifacts

    uri = client.get_model_version_download_uri("iris", "1")
    return Path(
        mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "fetched"))
    )


def test_a_batch_is_its_uploaders_alone(
    mlflow: Any, as_user: Any, web_server: Any, make_user: Any, tmp_path: Path
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    batch = f"{web_server.url}{PROXY}/uploads/mine"
    HttpArtifactRepository(batch).log_artifacts(str(saved_model(tmp_path)))
    mlflow.create_registered_model("iris")
    other = as_user(make_user("contributor"))

    with pytest.raises(MlflowException, match="No files are staged"):
        other.create_model_version("iris", source=batch)
    assert HttpArtifactRepository(batch).list_artifacts() == []  # as the other user
    assert not ModelVersion.objects.filter(group__name="iris").exists()


def test_bad_uploads_are_refused_naming_why(
    web_server: Any, contributor: Any, make_user: Any
) -> None:
    _, key = token_issue(user=contributor, scopes=["read", "write"])
    _, read_key = token_issue(user=contributor, scopes=["read"])
    _, viewer_key = token_issue(user=make_user("viewer"), scopes=["read", "write"])
    base = f"{web_server.url}{PROXY}"

    def put(path: str, token: str = key) -> requests.Response:
        return requests.put(
            f"{base}/{path}",
            data=b"x",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    outside = put("models/iris/1/MLmodel")
    escape = put("uploads/b/%2e%2e/x")
    bad_batch = put("uploads/%2Ebatch/x")
    read_only = put("uploads/b/x", read_key)
    viewer = put("uploads/b/x", viewer_key)
    anonymous = requests.put(f"{base}/uploads/b/x", data=b"x", timeout=30)

    assert outside.status_code == 400
    assert "uploads/<batch>/<path>" in outside.json()["message"]
    assert escape.status_code == 400 and "'..'" in escape.json()["message"]
    assert bad_batch.status_code == 400 and "batch" in bad_batch.json()["message"]
    assert read_only.status_code == 403
    assert viewer.status_code == 403
    assert anonymous.status_code == 401
