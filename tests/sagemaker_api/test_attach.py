"""A version recorded without bytes (a SageMaker ModelDataUrl) gets its model file
later through /api/v1/, checked and hashed like an upload, while it awaits review."""

from __future__ import annotations

import hashlib

import pytest

from catalog import services as catalog
from catalog.models import ModelVersion
from catalog.selectors import group_get
from tests import models as real_models
from tests.helpers import onnx_upload

pytestmark = pytest.mark.django_db

URL = "/api/v1/model-groups/iris/versions/1/artifact"


@pytest.fixture
def absent(group, contributor):
    return catalog.version_register_without_artifact(
        actor=contributor, group=group_get("iris")
    )


def test_an_absent_artifact_is_a_404_not_a_crash(api, absent):
    response = api.get(URL)

    assert response.status_code == 404
    assert "without a model file" in response.json()["error"]["message"]


def test_attaching_the_file_makes_the_version_ready(api, absent):
    data = real_models.iris_onnx()

    response = api.post(
        URL,
        {"artifact": onnx_upload(), "sha256": hashlib.sha256(data).hexdigest()},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    version = ModelVersion.objects.get(pk=absent.pk)
    assert version.registration_status == "Ready" and not version.artifact_absent
    assert version.artifact_sha256 == hashlib.sha256(data).hexdigest()
    assert version.artifact_format == "onnx"
    downloaded = api.get(URL)
    assert b"".join(downloaded.streaming_content) == data


def test_a_second_file_is_refused(api, absent):
    api.post(URL, {"artifact": onnx_upload()}, format="multipart")

    again = api.post(URL, {"artifact": onnx_upload()}, format="multipart")

    assert again.status_code == 409


def test_a_reviewed_version_gets_no_file(api, absent, client_for, reviewer):
    client_for(reviewer).post(
        "/api/v1/model-groups/iris/versions/1/reviews/",
        {"decision": "reject", "comment": "no"},
        format="json",
    )

    response = api.post(URL, {"artifact": onnx_upload()}, format="multipart")

    assert response.status_code == 409
    assert "register a new version" in response.json()["error"]["message"]


def test_a_wrong_sha256_or_a_refused_format_stores_nothing(api, absent):
    wrong = api.post(
        URL, {"artifact": onnx_upload(), "sha256": "0" * 64}, format="multipart"
    )

    assert wrong.status_code == 400
    assert ModelVersion.objects.get(pk=absent.pk).artifact_absent


def test_a_viewer_cannot_attach(client_for, viewer, absent):
    response = client_for(viewer).post(
        URL, {"artifact": onnx_upload()}, format="multipart"
    )

    assert response.status_code == 403


def test_a_model_quality_report_gives_each_metric_with_a_numeric_value():
    from catalog.services import report_metrics

    report = {
        "regression_metrics": {"mse": {"value": 2}, "r2": {"value": True}},
        "multiclass_classification_metrics": {"accuracy": {"value": 0.8}},
        "dataset": {"item_count": {"value": 5}},
    }

    assert report_metrics(report) == {"mse": 2.0, "accuracy": 0.8}
    assert report_metrics([1, 2]) == {}


def test_an_import_the_broker_lost_is_enqueued_again(settings, group, contributor):
    from datetime import timedelta

    from django.utils import timezone

    settings.S3_BUCKET = "registry-artifacts"
    settings.REGISTRY_SAGEMAKER_IMPORT_BUCKETS = ["training"]
    importing = catalog.version_register_for_import(
        actor=contributor, group=group_get("iris"), source_url="s3://training/m.onnx"
    )
    absent = catalog.version_register_for_import(
        actor=contributor, group=group_get("iris"), source_url="s3://elsewhere/m.onnx"
    )
    fresh = catalog.import_sweep()
    old = timezone.now() - timedelta(minutes=10)
    ModelVersion.objects.update(updated_at=old)

    assert importing.registration_status == "Pending" and absent.artifact_absent
    assert fresh == 0
    assert catalog.import_sweep() == 1
    assert catalog.import_sweep() == 0  # retried just now: not again at once
