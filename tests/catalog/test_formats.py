"""Artifacts: formats decided from the bytes, refusals that leave no trace."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.external_data_helper import set_external_data

from catalog.models import Event, ModelGroup, ModelVersion
from common.errors import TooLarge
from tests import models as real_models
from tests.catalog.helpers import fields_of, files_in
from tests.helpers import onnx_upload

VERSIONS = "/api/v1/model-groups/iris/versions/"


def matmul_onnx() -> onnx.ModelProto:
    """A valid ONNX model whose weights are an initializer tensor."""
    weights = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "matmul",
        [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [None, 3])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def onnx_with_external_data(tmp_path: Path) -> bytes:
    """The model saved the way onnx saves large models: weights beside the file."""
    path = tmp_path / "external" / "model.onnx"
    path.parent.mkdir()
    onnx.save_model(
        matmul_onnx(),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    assert (path.parent / "weights.bin").exists()
    return path.read_bytes()


def onnx_pointing_at_etc_passwd(tmp_path: Path) -> bytes:
    model = matmul_onnx()
    tensor = model.graph.initializer[0]
    set_external_data(tensor, location="../../../../etc/passwd")
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    return model.SerializeToString()


def zip_without_schema(tmp_path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.bin", b"\x00" * 32)
    return buffer.getvalue()


def skops_naming_os_system(tmp_path: Path) -> bytes:
    """A real skops file whose schema was edited to call ``os.system``."""
    source = io.BytesIO(real_models.iris_skops())
    target = io.BytesIO()
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(target, "w") as tampered,
    ):
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "schema.json":
                schema = json.loads(data)
                schema["__module__"], schema["__class__"] = "os", "system"
                data = json.dumps(schema).encode()
            tampered.writestr(item, data)
    return target.getvalue()


def old_pickle(protocol: int) -> bytes:
    """The iris classifier pickled with a protocol that has no 0x80 header."""
    return pickle.dumps(real_models.iris_classifier()[0], protocol=protocol)


BAD_ARTIFACTS = {
    "unknown-bytes": (lambda _: b"hello, I am not a model", "unknown", "Unrecognised"),
    "empty": (lambda _: b"", "empty", "empty"),
    "pickle": (lambda _: real_models.iris_pickle(), "pickle", "Detected pickle"),
    "pickle-protocol-0": (lambda _: old_pickle(0), "pickle", "Detected pickle"),
    "pickle-protocol-1": (lambda _: old_pickle(1), "pickle", "Detected pickle"),
    "joblib": (lambda _: real_models.iris_joblib(), "joblib", "Detected joblib"),
    "onnx-external-data": (onnx_with_external_data, "onnx", "external data"),
    "onnx-external-data-escaping": (
        onnx_pointing_at_etc_passwd,
        "onnx",
        "external data",
    ),
    "onnx-truncated": (
        lambda _: real_models.iris_onnx()[:300],
        "onnx",
        "Not a valid ONNX",
    ),
    "zip-not-skops": (zip_without_schema, "zip", "no schema.json"),
    "skops-naming-os-system": (skops_naming_os_system, "skops", "os.system"),
}


@pytest.fixture(autouse=True)
def upload_dir(settings: Any, tmp_path: Path) -> Path:
    """Uploads spool into a per-test folder, so a leaked temporary file shows."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def assert_no_trace_and_no_number_used(register: Any, artifact_root: Path) -> None:
    assert not ModelVersion.objects.exists()
    assert files_in(artifact_root) == []
    assert files_in(artifact_root.parent / "uploads") == []
    assert not Event.objects.filter(kind="version.registered").exists()
    retry = register()
    assert retry.status_code == 201, retry.content
    assert retry.json()["version"] == 1


@pytest.mark.parametrize("case", BAD_ARTIFACTS)
def test_it_refuses_an_artifact_and_leaves_no_trace(
    case, register, artifact_root, tmp_path
):
    make, detected, reason = BAD_ARTIFACTS[case]

    response = register(artifact=onnx_upload("model.onnx", make(tmp_path)))

    assert response.status_code == 400, response.content
    assert reason in fields_of(response)["artifact"][0]
    assert response.json()["error"]["detected_format"] == detected
    assert_no_trace_and_no_number_used(register, artifact_root)


BAD_FIELDS = {
    "sha256-mismatch": ({"sha256": "0" * 64}, "sha256"),
    "sha256-not-hex": ({"sha256": "not-a-digest"}, "sha256"),
    "metrics-invalid-json": ({"metrics": "{accuracy: 0.9"}, "metrics"),
    "tags-invalid-json": ({"tags": "{'a': 'b'}"}, "tags"),
    "lineage-invalid-json": ({"lineage": "[1, 2"}, "lineage"),
    "metrics-not-a-number": ({"metrics": {"accuracy": "high"}}, "metrics.accuracy"),
    "metrics-nan": ({"metrics": '{"accuracy": NaN}'}, "metrics.accuracy"),
    "metrics-infinity": ({"metrics": '{"accuracy": Infinity}'}, "metrics.accuracy"),
    "metrics-bool": ({"metrics": {"accuracy": True}}, "metrics.accuracy"),
    "metrics-bad-name": ({"metrics": {"acc uracy": 0.9}}, "metrics"),
    "metrics-not-object": ({"metrics": "[0.9]"}, "metrics"),
    "too-many-tags": ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags"),
    "tag-key-with-colon": ({"tags": {"a:b": "c"}}, "tags"),
    "unknown-lineage-key": ({"lineage": {"commit": "abc", "owner": "me"}}, "lineage"),
    "hyperparameters-not-object": ({"hyperparameters": "[1, 2]"}, "hyperparameters"),
    "description-control-char": ({"description": "bad\x07bell"}, "description"),
    "too-many-metadata-keys": (
        {"customer_metadata": {f"k{i}": "v" for i in range(51)}},
        "customer_metadata",
    ),
    "input-schema-not-object": ({"input_schema": "[1]"}, "input_schema"),
}


@pytest.mark.parametrize("case", BAD_FIELDS)
def test_it_refuses_bad_metadata_naming_the_field_and_leaves_no_trace(
    case, register, artifact_root
):
    fields, name = BAD_FIELDS[case]

    response = register(**fields)

    assert response.status_code == 400, response.content
    assert name in fields_of(response)
    assert_no_trace_and_no_number_used(register, artifact_root)


def test_it_accepts_fifty_tags(register):
    response = register(tags={f"k{i}": "v" for i in range(50)})

    assert response.status_code == 201, response.content


def test_it_refuses_an_artifact_over_the_size_limit_with_413(
    register, artifact_root, settings
):
    settings.REGISTRY_MAX_ARTIFACT_SIZE = len(real_models.iris_onnx()) - 1

    response = register()

    assert response.status_code == 413, response.content
    assert "artifact" in fields_of(response)
    settings.REGISTRY_MAX_ARTIFACT_SIZE = len(real_models.iris_onnx())
    assert_no_trace_and_no_number_used(register, artifact_root)


def test_a_declared_body_over_the_limit_is_refused_before_reading(
    register, artifact_root, settings
):
    settings.REGISTRY_MAX_ARTIFACT_SIZE = 10
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10

    response = register()

    assert response.status_code == 413, response.content
    assert not ModelVersion.objects.exists()
    assert files_in(artifact_root) == []


def test_the_service_refuses_an_artifact_over_the_size_limit(
    make_group, make_version, artifact_root, upload_dir, settings
):
    group = make_group("iris")
    settings.REGISTRY_MAX_ARTIFACT_SIZE = 100

    with pytest.raises(TooLarge):
        make_version(group)

    assert not ModelVersion.objects.exists()
    assert files_in(artifact_root) == []
    assert files_in(upload_dir) == []


def test_an_onnx_model_with_embedded_weights_is_accepted(register):
    upload = onnx_upload("model.onnx", matmul_onnx().SerializeToString())

    response = register(artifact=upload)

    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["format"] == "onnx"


def test_it_accepts_a_skops_model(register, api):
    upload = onnx_upload("model.skops", real_models.iris_skops())

    response = register(artifact=upload)

    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["format"] == "skops"
    download = api.get(f"{VERSIONS}1/artifact")
    assert b"".join(download.streaming_content) == real_models.iris_skops()
    assert 'filename="iris-v1.skops"' in download["Content-Disposition"]


def test_the_format_comes_from_the_bytes_not_the_name(register):
    onnx_named_pkl = register(artifact=onnx_upload("model.pkl"))
    pickle_named_onnx = register(
        artifact=onnx_upload("model.onnx", real_models.iris_pickle())
    )

    assert onnx_named_pkl.json()["artifact"]["format"] == "onnx"
    assert pickle_named_onnx.status_code == 400
    assert pickle_named_onnx.json()["error"]["detected_format"] == "pickle"


@pytest.mark.parametrize(
    ("content", "fmt"),
    [(real_models.iris_pickle, "pickle"), (real_models.iris_joblib, "joblib")],
)
def test_it_accepts_pickle_when_the_group_allows_it(content, fmt, register, group):
    ModelGroup.objects.filter(name="iris").update(allow_pickle=True)

    response = register(artifact=onnx_upload("model.bin", content()))

    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["format"] == fmt


def test_allowing_pickle_still_refuses_unknown_bytes(register, group):
    ModelGroup.objects.filter(name="iris").update(allow_pickle=True)

    response = register(artifact=onnx_upload("model.bin", b"plain text, no model"))

    assert response.status_code == 400


def _raw_multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    """A body with the file name exactly as a hostile client sends it."""
    boundary = "----registry-test-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="artifact"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + content + tail, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("filename", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\x.onnx", "x.onnx"),
        ("/abs/../../model.onnx", "model.onnx"),
    ],
)
def test_a_traversal_file_name_is_kept_as_text_and_the_key_is_server_made(
    filename, kept, group, api, artifact_root, tmp_path
):
    body, content_type = _raw_multipart(filename, real_models.iris_onnx())

    response = api.post(VERSIONS, body, content_type=content_type)

    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["filename"] == kept
    key = ModelVersion.objects.get().artifact_key
    assert key.startswith("groups/")
    assert ".." not in key
    assert files_in(artifact_root) == [artifact_root / key]
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize(
    ("content", "fmt"),
    [(real_models.iris_onnx, "onnx"), (real_models.iris_skops, "skops")],
)
def test_large_artifacts_are_checked_in_a_child_process(
    content, fmt, register, settings
):
    settings.REGISTRY_INPROCESS_CHECK_MAX = 10

    response = register(artifact=onnx_upload("model", content()))

    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["format"] == fmt


def test_the_child_process_check_refuses_pickle_too(register, settings, artifact_root):
    settings.REGISTRY_INPROCESS_CHECK_MAX = 10

    response = register(artifact=onnx_upload("model", real_models.iris_pickle()))

    assert response.status_code == 400
    assert response.json()["error"]["detected_format"] == "pickle"
    assert files_in(artifact_root) == []


@pytest.mark.parametrize("in_process_max", [2**40, 10], ids=["in-process", "child"])
def test_a_skops_type_is_accepted_once_the_site_trusts_it(
    in_process_max, register, settings
):
    settings.REGISTRY_INPROCESS_CHECK_MAX = in_process_max
    content = real_models.iris_skops_naming_a_fraction()

    refused = register(artifact=onnx_upload("model.skops", content))
    settings.REGISTRY_SKOPS_TRUSTED_TYPES = ["fractions.Fraction"]
    accepted = register(artifact=onnx_upload("model.skops", content))

    assert refused.status_code == 400
    assert "fractions.Fraction" in fields_of(refused)["artifact"][0]
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["artifact"]["format"] == "skops"


def test_a_protocol_0_pickle_is_accepted_when_the_group_allows_it(register, group):
    ModelGroup.objects.filter(name="iris").update(allow_pickle=True)

    response = register(artifact=onnx_upload("model.onnx", old_pickle(0)))

    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["format"] == "pickle"
