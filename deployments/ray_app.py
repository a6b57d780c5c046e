"""The Ray Serve application of a ``ray`` endpoint, run by Ray's replicas.

The registry applies it through Serve's REST API with ``import_path``
``deployments.ray_app:build`` and these ``args``: the artifact's signed URL, its
SHA-256 and format, the endpoint and version. Each replica downloads the artifact,
checks its digest and loads it (ONNX with onnxruntime, skops with its trusted types),
then answers ``POST`` with ``{"inputs": [[...], ...]}`` as the registry's
``/invocations`` does, and ``GET`` with its version and what it takes and answers
(the Open Inference Protocol's metadata, which the registry's ``/v2`` serves). This module runs in Ray's workers: it must not import Django.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from typing import Any

import numpy as np

DOWNLOAD_TIMEOUT = 60


class ArtifactRejected(Exception):
    """The downloaded bytes are not the approved ones."""


def download(url: str, sha256: str, folder: str | None = None) -> str:
    """The artifact at ``url`` in a local file, its SHA-256 checked."""
    digest = hashlib.sha256()
    if not url.startswith(("http://", "https://")):
        raise ArtifactRejected(f"the artifact URL must be http(s): {url}")
    handle, path = tempfile.mkstemp(prefix="registry-artifact-", dir=folder)
    with (
        os.fdopen(handle, "wb") as out,
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response,  # noqa: S310
    ):
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        os.unlink(path)
        raise ArtifactRejected(
            f"artifact sha256 {digest.hexdigest()} does not match the approved {sha256}"
        )
    return path


# Open Inference Protocol datatypes, by numpy kind and size (as deployments.oip).
DATATYPES = {
    "b1": "BOOL",
    "u1": "UINT8",
    "u2": "UINT16",
    "u4": "UINT32",
    "u8": "UINT64",
    "i1": "INT8",
    "i2": "INT16",
    "i4": "INT32",
    "i8": "INT64",
    "f2": "FP16",
    "f4": "FP32",
    "f8": "FP64",
}
ONNX_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


def datatype(dtype: Any) -> str:
    kind = np.dtype(dtype)
    return DATATYPES.get(f"{kind.kind}{kind.itemsize}", "BYTES")


class Model:
    """One loaded version: ``predict`` takes JSON rows and returns named JSON
    outputs, named as the registry's own serving names them; ``describe`` says its
    input and outputs (the Open Inference Protocol's metadata)."""

    def __init__(self, path: str, artifact_format: str, trusted: list[str]):
        self.format = artifact_format
        if artifact_format == "onnx":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.enable_cpu_mem_arena = False  # a large request's peak goes back
            self.session = onnxruntime.InferenceSession(
                path, options, providers=["CPUExecutionProvider"]
            )
            self.input = self.session.get_inputs()[0]
            self.dtype = ONNX_TYPES.get(self.input.type, np.float32)
        elif artifact_format == "skops":
            import skops.io

            self.estimator = skops.io.load(path, trusted=trusted)
            self.dtype = np.float64
        else:
            raise ValueError(
                f"the Ray target serves onnx and skops, not {artifact_format}"
            )

    def _run(self, inputs: Any) -> dict[str, Any]:
        batch: Any = np.asarray(inputs, dtype=self.dtype)
        if self.format == "onnx":
            names = [output.name for output in self.session.get_outputs()]
            values = self.session.run(names, {self.input.name: batch})
            return dict(zip(names, values, strict=True))
        model = self.estimator
        if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
            return {
                "label": model.predict(batch),
                "probabilities": model.predict_proba(batch),
            }
        return {"variable": model.predict(batch)}

    def predict(self, inputs: Any) -> dict[str, Any]:
        return {name: _plain(value) for name, value in self._run(inputs).items()}

    def describe(self, sample: Any) -> dict[str, Any]:
        """The input tensor, and the outputs the sample answered (none without)."""
        if self.format == "onnx":
            name = self.input.name
            shape = [
                d if isinstance(d, int) and d > 0 else -1 for d in self.input.shape
            ]
        else:
            width = getattr(self.estimator, "n_features_in_", None)
            name, shape = "inputs", [-1, int(width) if width else -1]
        outputs = []
        for out, value in (self._run(sample) if sample is not None else {}).items():
            array = np.asarray(value)
            outputs.append(
                {
                    "name": out,
                    "datatype": datatype(array.dtype),
                    "shape": [-1, *array.shape[1:]] if array.ndim else [-1],
                }
            )
        return {
            "platform": f"{self.format}-on-ray",
            "inputs": [
                {"name": name, "datatype": datatype(self.dtype), "shape": shape}
            ],
            "outputs": outputs,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):  # ONNX sequences of maps (probabilities)
        return [
            {str(k): float(v) for k, v in item.items()}
            if isinstance(item, dict)
            else _plain(item)
            for item in value
        ]
    if isinstance(value, np.generic):
        return value.item()
    return value


class Replica:
    """A Serve replica holding one version of one endpoint."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.version = int(args["version"])
        self.endpoint = args["endpoint"]
        path = download(args["artifact_url"], args["sha256"])
        try:
            self.model = Model(path, args["format"], list(args.get("trusted", [])))
        finally:
            os.unlink(path)
        # Warms the model up with the sample, and says what it takes and answers.
        self.described = self.model.describe(args.get("sample"))

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        if request.method == "GET":
            return JSONResponse(
                {
                    "endpoint": self.endpoint,
                    "version": self.version,
                    "model": self.described,
                }
            )
        try:
            body = await request.json()
            inputs = body.get("inputs", body.get("instances"))
            outputs = self.model.predict(inputs)
        except Exception as exc:  # bad input: say what, as a 400
            return JSONResponse(
                {"error": {"status": 400, "message": f"{type(exc).__name__}: {exc}"}},
                status_code=400,
            )
        first = next(iter(outputs.values()))
        return JSONResponse(
            {"predictions": first, "model_version": self.version, "outputs": outputs},
            headers={"X-Model-Version": str(self.version)},
        )


def build(args: dict[str, Any]) -> Any:
    """The application builder Serve calls with the application's ``args``."""
    from ray import serve

    deployment = serve.deployment(name="Model")(Replica)
    return deployment.bind(args)
