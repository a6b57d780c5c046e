"""Loading and warming a model, in this process and in a limited child."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelformats
from modelformats import LoadError, Trust
from tests import models as real_models
from tests.helpers import SAMPLE

LIMITS = {"timeout": 60, "memory": 3 * 1024**3}


def write(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "model"
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    ("content", "fmt", "outputs"),
    [
        (real_models.iris_onnx, "onnx", ["label", "probabilities"]),
        (real_models.iris_skops, "skops", ["label", "probabilities"]),
        (real_models.iris_joblib, "joblib", ["label", "probabilities"]),
    ],
)
def test_the_child_reports_what_the_model_answered(content, fmt, outputs, tmp_path):
    path = write(tmp_path, content())

    report = modelformats.load_and_warm_isolated(
        path, fmt, trust=Trust(), payload={"inputs": SAMPLE}, **LIMITS
    )

    assert report == modelformats.load_and_warm(
        path, fmt, trust=Trust(), payload={"inputs": SAMPLE}
    )
    assert report["outputs"] == outputs
    assert report["rows"] == 2


def test_without_a_sample_the_warm_up_is_a_row_of_zeros_shaped_as_declared(tmp_path):
    path = write(tmp_path, real_models.iris_onnx())

    report = modelformats.load_and_warm(
        path, "onnx", trust=Trust(), payload=None, declared=[3, 4]
    )

    assert report["rows"] == 3
    assert report["input"] == {"name": "X", "dtype": "float32", "shape": [None, 4]}


def test_a_warm_up_that_breaks_the_declared_shape_fails_the_load(tmp_path):
    path = write(tmp_path, real_models.iris_onnx())

    with pytest.raises(LoadError, match="warm-up input does not fit"):
        modelformats.load_and_warm(
            path, "onnx", trust=Trust(), payload=SAMPLE, declared=[None, 5]
        )


@pytest.mark.parametrize("fmt", ["safetensors", "tensorflow"])
def test_a_format_without_a_loader_is_a_load_error(fmt, tmp_path):
    path = write(tmp_path, real_models.iris_onnx())

    with pytest.raises(LoadError, match="no loader for format"):
        modelformats.load(path, fmt, trust=Trust())


def test_bytes_that_are_not_the_format_are_a_load_error(tmp_path):
    path = write(tmp_path, b"hello, I am not a model")

    with pytest.raises(LoadError, match="loading the onnx model failed"):
        modelformats.load(path, "onnx", trust=Trust())


def test_predictions_convert_to_json(tmp_path):
    predictor = modelformats.load(
        write(tmp_path, real_models.iris_onnx()), "onnx", trust=Trust()
    )

    outputs = predictor.predict(predictor.coerce(SAMPLE))

    converted = {k: modelformats.jsonable(v) for k, v in outputs.items()}
    assert converted["label"] == [0, 2]
    assert all(type(p) is float for p in converted["probabilities"][0])
