"""The Ray Serve application of a ``ray`` endpoint, run by Ray's replicas.

The registry applies it through Serve's REST API with ``import_path``
``deployments.ray_app:build`` and these ``args``: the artifact's signed URL, its
SHA-256 and format, the endpoint and version. Each replica downloads the artifact,
checks its digest and loads it (ONNX with onnxruntime, skops with its trusted types),
then answers ``POST`` with ``{"inputs": [[...], ...]}`` as the registry's
``/invocations`` does. This module runs in Ray's workers: it must not import Django.
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


class Model:
    """One loaded version: ``predict`` takes JSON rows, returns named JSON outputs."""

    def __init__(self, path: str, artifact_format: str, trusted: list[str]):
        self.format = artifact_format
        if artifact_format == "onnx":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self.session = onnxruntime.InferenceSession(
                path, options, providers=["CPUExecutionProvider"]
            )
            self.input = self.session.get_inputs()[0]
        elif artifact_format == "skops":
            import skops.io

            self.estimator = skops.io.load(path, trusted=trusted)
        else:
            raise ValueError(
                f"the Ray target serves onnx and skops, not {artifact_format}"
            )

    def predict(self, inputs: Any) -> dict[str, Any]:
        if self.format == "onnx":
            dtype = np.int64 if "int64" in self.input.type else np.float32
            batch = np.asarray(inputs, dtype=dtype)
            names = [output.name for output in self.session.get_outputs()]
            values = self.session.run(names, {self.input.name: batch})
            return {
                name: _plain(value) for name, value in zip(names, values, strict=True)
            }
        return {"predictions": _plain(self.estimator.predict(np.asarray(inputs)))}


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
        if args.get("sample"):
            self.model.predict(args["sample"])  # warm-up

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        if request.method == "GET":
            return JSONResponse({"endpoint": self.endpoint, "version": self.version})
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
