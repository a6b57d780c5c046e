"""Formats decided from the bytes: sniffing, checks and refusals, without Django."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import modelformats
from modelformats import ArtifactRefused, Trust
from tests import models as real_models

PICKLE_TRUSTED = Trust(pickle=True)


def write(tmp_path: Path, content: bytes, name: str = "upload") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    ("content", "fmt"),
    [(real_models.iris_onnx, "onnx"), (real_models.iris_skops, "skops")],
)
def test_inspect_names_the_safe_formats(content, fmt, tmp_path):
    path = write(tmp_path, content())

    assert modelformats.inspect(path, trust=Trust()) == fmt


@pytest.mark.parametrize(
    ("content", "detected"),
    [(real_models.iris_pickle, "pickle"), (real_models.iris_joblib, "joblib")],
)
def test_inspect_refuses_pickle_based_files_by_default(content, detected, tmp_path):
    path = write(tmp_path, content(), "model.onnx")

    with pytest.raises(ArtifactRefused) as refused:
        modelformats.inspect(path, trust=Trust())

    assert refused.value.detected == detected
    assert modelformats.inspect(path, trust=PICKLE_TRUSTED) == detected


@pytest.mark.parametrize("protocol", [0, 1])
@pytest.mark.parametrize("value", [{"weights": [0.5, 1.5]}, ["a", 1], 1.5])
def test_protocol_0_and_1_pickles_are_named_as_pickle(protocol, value, tmp_path):
    path = write(tmp_path, pickle.dumps(value, protocol=protocol), "model.bin")

    with pytest.raises(ArtifactRefused) as refused:
        modelformats.inspect(path, trust=Trust())

    assert refused.value.detected == "pickle"
    assert "pickle (protocol 0 or 1)" in refused.value.message
    assert modelformats.inspect(path, trust=PICKLE_TRUSTED) == "pickle"


@pytest.mark.parametrize(
    "content",
    [b"name,value\nI1,2\n", b"(a, b)\n", b"class Model:\n    pass\n", b"c\n"],
)
def test_text_is_not_mistaken_for_an_old_pickle(content):
    assert modelformats.detect(content) is None


def test_safetensors_is_recognised_and_refused_even_where_pickle_is_trusted(
    tmp_path,
):
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    content = len(header).to_bytes(8, "little") + header + b"\x00" * 4
    path = write(tmp_path, content)

    with pytest.raises(ArtifactRefused) as refused:
        modelformats.inspect(path, trust=PICKLE_TRUSTED)

    assert refused.value.detected == "safetensors"


def test_every_format_name_is_found_by_name():
    names = {fmt.name for fmt in modelformats.FORMATS}

    assert names == {"onnx", "skops", "pickle", "joblib", "safetensors"}
    assert all(modelformats.by_name(name).name == name for name in names)


def _rss_mib() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) // 1024


def test_an_onnx_run_gives_its_memory_back_when_it_ends(tmp_path):
    """Issue 13: one large request must not leave its peak in the serving process.
    X (rows x 4) @ W (4 x 4096) @ V (4096 x 3): 25,000 rows make a 400 MB
    intermediate tensor, which onnxruntime's memory arena used to keep."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from modelformats.formats import OnnxPredictor

    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["H"]),
            helper.make_node("MatMul", ["H", "V"], ["Y"]),
        ],
        "wide",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])],
        [
            numpy_helper.from_array(rng.random((4, 4096), dtype=np.float32), "W"),
            numpy_helper.from_array(rng.random((4096, 3), dtype=np.float32), "V"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "wide.onnx"
    path.write_bytes(model.SerializeToString())
    predictor = OnnxPredictor(str(path))
    predictor.predict(np.ones((1, 4), dtype=np.float32))
    before = _rss_mib()

    outputs = predictor.predict(np.ones((25_000, 4), dtype=np.float32), timeout=60)

    assert next(iter(outputs.values())).shape == (25_000, 3)
    assert _rss_mib() - before < 100, (before, _rss_mib())
