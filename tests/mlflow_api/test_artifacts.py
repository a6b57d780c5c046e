"""Issue 17: ``mlflow.pyfunc.load_model("models:/name@alias")`` loads a version
uploaded here, through this registry's artifact proxy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import requests

from accounts.services import token_issue
from approvals.services import review_submit
from catalog import selectors
from tests import models as real_models
from tests.helpers import SAMPLE

pytestmark = pytest.mark.django_db(transaction=True)


def upload(web_server: Any, user: Any, name: str) -> None:
    _, key = token_issue(user=user, scopes=["read", "write"])
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    api = f"{web_server.url}/api/v1/model-groups"
    assert session.post(f"{api}/", json={"name": name}, timeout=30).ok
    answer = session.post(
        f"{api}/{name}/versions/",
        files={"artifact": ("iris.onnx", real_models.iris_onnx())},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text


def test_pyfunc_loads_an_approved_champion_from_here(
    mlflow: Any, web_server: Any, contributor: Any, reviewer: Any, tmp_path: Any
) -> None:
    import mlflow as mlflow_module

    upload(web_server, contributor, "iris")
    review_submit(
        actor=reviewer, version=selectors.version_get("iris", 1), decision="approve"
    )
    mlflow.set_registered_model_alias("iris", "champion", "1")
    mlflow_module.set_tracking_uri(web_server.url)
    mlflow_module.set_registry_uri(web_server.url)

    model = mlflow_module.pyfunc.load_model(
        "models:/iris@champion", dst_path=str(tmp_path)
    )
    predicted = model.predict(np.array(SAMPLE, dtype=np.float32))

    expected = real_models.iris_classifier()[0].predict(np.array(SAMPLE, np.float32))
    labels = predicted["label"] if isinstance(predicted, dict) else predicted
    assert list(np.asarray(labels).ravel()) == list(expected)


def test_download_uri_points_at_the_registrys_own_proxy(
    mlflow: Any, web_server: Any, contributor: Any
) -> None:
    upload(web_server, contributor, "iris")

    uri = mlflow.get_model_version_download_uri("iris", "1")

    assert uri == (f"{web_server.url}/api/2.0/mlflow-artifacts/artifacts/models/iris/1")
    assert mlflow.get_model_version("iris", "1").source == uri


def test_the_proxy_refuses_unknown_paths_in_mlflow_shape(
    web_server: Any, contributor: Any
) -> None:
    _, key = token_issue(user=contributor, scopes=["read"])
    headers = {"Authorization": f"Bearer {key}"}
    base = f"{web_server.url}/api/2.0/mlflow-artifacts/artifacts"

    for url in (f"{base}/etc/passwd", f"{base}/models/nope/1/model.onnx"):
        answer = requests.get(url, headers=headers, timeout=30)
        assert answer.status_code == 404
        assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.get(f"{base}/models/x/1/MLmodel", timeout=30).status_code == 401


def test_pyfunc_loads_a_folder_version_from_its_manifest(
    mlflow: Any,
    web_server: Any,
    worker: Any,
    contributor: Any,
    reviewer: Any,
    tmp_path: Any,
) -> None:
    """``worker``: files stored here are where the server reads them."""
    import mlflow as mlflow_module
    import onnx
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog import folders, services

    saved = tmp_path / "saved"
    mlflow_module.onnx.save_model(onnx.load_from_string(real_models.iris_onnx()), saved)
    files = {
        str(p.relative_to(saved)): SimpleUploadedFile(p.name, p.read_bytes())
        for p in saved.rglob("*")
        if p.is_file()
    }
    group = services.group_create(actor=contributor, name="iris")
    folders.version_register_folder(actor=contributor, group=group, files=files)
    review_submit(
        actor=reviewer, version=selectors.version_get("iris", 1), decision="approve"
    )
    mlflow.set_registered_model_alias("iris", "champion", "1")
    mlflow_module.set_tracking_uri(web_server.url)
    mlflow_module.set_registry_uri(web_server.url)
    (tmp_path / "loaded").mkdir()

    model = mlflow_module.pyfunc.load_model(
        "models:/iris@champion", dst_path=str(tmp_path / "loaded")
    )

    downloaded = {
        str(p.relative_to(tmp_path / "loaded"))
        for p in (tmp_path / "loaded").rglob("*")
        if p.is_file()
    }
    assert downloaded - {"registered_model_meta"} == set(files)
    predicted = model.predict(np.array(SAMPLE, dtype=np.float32))
    expected = real_models.iris_classifier()[0].predict(np.array(SAMPLE, np.float32))
    labels = predicted["label"] if isinstance(predicted, dict) else predicted
    assert list(np.asarray(labels).ravel()) == list(expected)
