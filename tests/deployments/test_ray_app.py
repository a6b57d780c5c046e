"""The module Ray's replicas run (``deployments.ray_app``), without Ray: it loads a
version as the registry's own serving does, answers with the same output names, and
describes its input and outputs as the Open Inference Protocol's metadata."""

from __future__ import annotations

import numpy as np

from deployments.ray_app import Model
from modelformats import Trust, load
from modelformats.formats import SKOPS_EXTRA_TRUSTED
from tests import models
from tests.helpers import SAMPLE


def _both(tmp_path, content: bytes, fmt: str):  # type: ignore[no-untyped-def]
    path = tmp_path / f"model.{fmt}"
    path.write_bytes(content)
    trusted = list(SKOPS_EXTRA_TRUSTED) if fmt == "skops" else []  # as plan() sends
    return Model(str(path), fmt, trusted), load(str(path), fmt, trust=Trust())


def test_an_onnx_replica_answers_and_describes_itself_as_builtin_serving(tmp_path):
    replica, builtin = _both(tmp_path, models.iris_onnx(), "onnx")

    answered = replica.predict(SAMPLE)
    expected = builtin.predict(np.asarray(SAMPLE, dtype=np.float32))

    assert set(answered) == set(expected)
    for name, value in expected.items():
        assert np.allclose(answered[name], value), name
    described = replica.describe(SAMPLE)
    assert described["inputs"] == [
        {"name": builtin.spec.name, "datatype": "FP32", "shape": [-1, 4]}
    ]
    kinds = {o["name"]: o["datatype"] for o in described["outputs"]}
    assert kinds == {
        name: {"i": "INT64", "f": "FP32"}[np.asarray(value).dtype.kind]
        for name, value in expected.items()
    }


def test_a_skops_replica_names_its_outputs_as_builtin_serving(tmp_path):
    replica, builtin = _both(tmp_path, models.iris_skops(), "skops")

    answered = replica.predict(SAMPLE)
    expected = builtin.predict(np.asarray(SAMPLE, dtype=np.float64))

    assert set(answered) == set(expected) == {"label", "probabilities"}
    assert answered["label"] == expected["label"].tolist()
    described = replica.describe(SAMPLE)
    assert described["inputs"] == [
        {"name": "inputs", "datatype": "FP64", "shape": [-1, 4]}
    ]
    assert [o["name"] for o in described["outputs"]] == ["label", "probabilities"]
    assert replica.describe(None)["outputs"] == []
