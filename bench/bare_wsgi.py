"""The yardstick for bench/serving_bench.py: a bare WSGI app around the same ONNX
model (``BARE_ONNX`` names the file), no registry at all: parse JSON, run, answer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import onnxruntime as ort

_options = ort.SessionOptions()
_options.intra_op_num_threads = 1
_session = ort.InferenceSession(
    os.environ["BARE_ONNX"], sess_options=_options, providers=["CPUExecutionProvider"]
)
_input = _session.get_inputs()[0].name
_dtype = np.float64 if _session.get_inputs()[0].type == "tensor(double)" else np.float32
_outputs = [o.name for o in _session.get_outputs()]


def application(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length))
    batch = np.asarray(body["inputs"], dtype=_dtype)
    results = _session.run(None, {_input: batch})
    outputs = {
        name: value.tolist() for name, value in zip(_outputs, results, strict=True)
    }
    answer = json.dumps(
        {"predictions": next(iter(outputs.values())), "outputs": outputs},
        separators=(",", ":"),
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
    )
    return [answer]
