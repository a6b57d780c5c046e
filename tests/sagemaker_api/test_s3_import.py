"""Importing a ModelDataUrl from an allowed bucket (issue 12), against a real
S3-compatible server (moto's, from PyPI) started on loopback, with the registry's
artifact storage on S3 through the ``REGISTRY_S3_*`` settings: the server and a
worker of their own, on a queue of their own."""

from __future__ import annotations

import hashlib
import pickle
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from accounts.services import token_issue
from catalog.models import ModelVersion
from tests import models as real_models
from tests.conftest import own_registry
from tests.helpers import register_payload
from tests.s3server import moto_s3, storage_env
from tests.sagemaker_api.conftest import client, issue_key

pytestmark = pytest.mark.django_db(transaction=True)

STORE, ALLOWED, OTHER = "registry-artifacts", "training", "elsewhere"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: Any) -> Any:
    with moto_s3(tmp_path_factory.mktemp("moto"), (STORE, ALLOWED, OTHER)) as client:
        yield client


@pytest.fixture(scope="module")
def s3_registry(celery_worker_process: Any, s3: Any, tmp_path_factory: Any) -> Any:
    folder = tmp_path_factory.mktemp("s3-registry")
    with own_registry(
        celery_worker_process,
        folder,
        "s3",
        **storage_env(s3, STORE),
        REGISTRY_SAGEMAKER_IMPORT_BUCKETS=ALLOWED,
    ) as server:
        yield server


@pytest.fixture
def sm(s3_registry, make_user):
    sm = client(s3_registry.url, issue_key(s3_registry.url, make_user("contributor")))
    sm.create_model_package_group(ModelPackageGroupName="churn")
    return sm


def _create(sm, url: str) -> str:
    spec = {"Containers": [{"Image": "sklearn:1", "ModelDataUrl": url}]}
    return sm.create_model_package(
        ModelPackageGroupName="churn", InferenceSpecification=spec
    )["ModelPackageArn"]


def _settled(sm, arn: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_model_package(ModelPackageName=arn)
        if described["ModelPackageStatus"] != "InProgress":
            return described
        time.sleep(0.2)
    raise AssertionError(f"{arn} still InProgress")


def test_an_object_in_an_allowed_bucket_is_imported_and_hashed(sm, s3):
    data = real_models.iris_onnx()
    s3.put_object(Bucket=ALLOWED, Key="churn/model.onnx", Body=data)

    arn = _create(sm, f"s3://{ALLOWED}/churn/model.onnx")
    described = _settled(sm, arn)

    assert described["ModelPackageStatus"] == "Completed"
    version = ModelVersion.objects.get(group__name="churn", version=1)
    assert version.registration_status == "Ready"
    assert version.artifact_sha256 == hashlib.sha256(data).hexdigest()
    assert version.artifact_format == "onnx"
    stored = s3.get_object(Bucket=STORE, Key=f"artifacts/{version.artifact_key}")
    assert stored["Body"].read() == data


def test_a_pickle_object_fails_the_import_with_the_reason(sm, s3):
    s3.put_object(Bucket=ALLOWED, Key="churn/model.pkl", Body=pickle.dumps({"a": 1}))

    described = _settled(sm, _create(sm, f"s3://{ALLOWED}/churn/model.pkl"))

    assert described["ModelPackageStatus"] == "Failed"
    reason = described["ModelPackageStatusDetails"]["ValidationStatuses"][0]
    assert reason["Status"] == "Failed"
    assert "pickle" in reason["FailureReason"].lower()
    assert not ModelVersion.objects.get(group__name="churn").has_verified_bytes


def test_a_missing_object_fails_the_import(sm):
    described = _settled(sm, _create(sm, f"s3://{ALLOWED}/churn/absent.onnx"))

    assert described["ModelPackageStatus"] == "Failed"


def test_a_bucket_not_allowed_is_recorded_without_bytes_and_not_fetched(sm, s3):
    s3.put_object(Bucket=OTHER, Key="model.onnx", Body=real_models.iris_onnx())

    described = sm.describe_model_package(
        ModelPackageName=_create(sm, f"s3://{OTHER}/model.onnx")
    )

    assert described["ModelPackageStatus"] == "Completed"
    version = ModelVersion.objects.get(group__name="churn")
    assert version.artifact_absent and version.artifact_key == ""
    stored = s3.list_objects_v2(Bucket=STORE).get("Contents", [])
    assert not [o for o in stored if f"/{version.group_id}/" in o["Key"]]


def test_the_s3_storage_takes_uploads_and_serves_them_with_their_etag(
    s3_registry, make_user
):
    _, token = token_issue(user=make_user("contributor"))
    headers = {"Authorization": f"Token {token}"}
    url = f"{s3_registry.url}/api/v1/model-groups"
    assert requests.post(
        url + "/", json={"name": "iris"}, headers=headers, timeout=10
    ).ok
    payload = register_payload()
    upload = payload.pop("artifact")
    registered = requests.post(
        f"{url}/iris/versions/",
        data=payload,
        files={"artifact": ("model.onnx", upload.read())},
        headers=headers,
        timeout=30,
    )
    assert registered.status_code == 201, registered.text

    downloaded = requests.get(
        f"{url}/iris/versions/1/artifact", headers=headers, timeout=30
    )

    data = real_models.iris_onnx()
    assert downloaded.content == data
    assert downloaded.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'


def _big_onnx(path: Path, mib: int = 100) -> None:
    """A valid ONNX model of about ``mib`` MiB: ``Y = X @ W`` with W an initializer."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    side = int((mib * 1024**2 / 4) ** 0.5)
    weights = np.random.default_rng(0).random((side, side), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "big",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, side])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, side])],
        [numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_a_100_mb_artifact_goes_through_the_api_into_s3_and_back(
    s3_registry, s3, make_user, tmp_path
):
    model = tmp_path / "big.onnx"
    _big_onnx(model)
    size = model.stat().st_size
    assert size > 100 * 1000**2
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    _, token = token_issue(user=make_user("contributor"))
    headers = {"Authorization": f"Token {token}"}
    url = f"{s3_registry.url}/api/v1/model-groups"
    assert requests.post(
        url + "/", json={"name": "big"}, headers=headers, timeout=10
    ).ok

    with model.open("rb") as handle:
        registered = requests.post(
            f"{url}/big/versions/",
            files={"artifact": ("big.onnx", handle)},
            headers=headers,
            timeout=300,
        )
    assert registered.status_code == 201, registered.text
    assert registered.json()["artifact"]["sha256"] == digest
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = requests.get(
            f"{url}/big/versions/1/", headers=headers, timeout=30
        ).json()["registration_status"]
        if status != "Pending":
            break
        time.sleep(0.5)
    assert status == "Ready"

    version = ModelVersion.objects.get(group__name="big", version=1)
    stored = s3.head_object(Bucket=STORE, Key=f"artifacts/{version.artifact_key}")
    assert stored["ContentLength"] == size
    hashed, received = hashlib.sha256(), 0
    with requests.get(
        f"{url}/big/versions/1/artifact", headers=headers, stream=True, timeout=300
    ) as downloaded:
        assert downloaded.status_code == 200
        assert downloaded.headers["ETag"] == f'"{digest}"'
        for chunk in downloaded.iter_content(1024 * 1024):
            hashed.update(chunk)
            received += len(chunk)
    assert (received, hashed.hexdigest()) == (size, digest)


REPORT = {
    "version": 0.0,
    "dataset": {"item_count": 100},
    "binary_classification_metrics": {
        "accuracy": {"value": 0.93, "standard_deviation": 0.01},
        "auc": {"value": 0.97, "standard_deviation": 0.005},
        "confusion_matrix": {"0": {"0": 40, "1": 3}},
    },
}


def test_a_model_quality_report_in_an_allowed_bucket_becomes_metrics(sm, s3):
    import json

    s3.put_object(Bucket=ALLOWED, Key="churn/quality.json", Body=json.dumps(REPORT))
    metrics = {
        "ModelQuality": {
            "Statistics": {
                "ContentType": "application/json",
                "S3Uri": f"s3://{ALLOWED}/churn/quality.json",
            }
        }
    }
    sm.create_model_package(ModelPackageGroupName="churn", ModelMetrics=metrics)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        version = ModelVersion.objects.get(group__name="churn")
        if version.metrics:
            break
        time.sleep(0.2)
    assert version.metrics == {"accuracy": 0.93, "auc": 0.97}
    assert version.metric_rows.filter(name="auc", value__gte=0.9).exists()
    described = sm.describe_model_package(ModelPackageName="churn/1")
    assert described["ModelMetrics"] == metrics  # still returned as sent
