import hashlib

from tests import models as real_models


def test_a_contributor_registers_a_real_onnx_model(register, api):
    response = register(
        metrics={"accuracy": real_models.iris_accuracy()}, description="first"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["group"] == "iris"
    assert body["version"] == 1
    assert body["approval_status"] == "PendingManualApproval"
    assert (
        body["artifact"]["sha256"]
        == hashlib.sha256(real_models.iris_onnx()).hexdigest()
    )
    assert body["artifact"]["format"] == "onnx"

    download = api.get("/api/v1/model-groups/iris/versions/1/artifact")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == real_models.iris_onnx()
    assert download["ETag"] == f'"{body["artifact"]["sha256"]}"'
