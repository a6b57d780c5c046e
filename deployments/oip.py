"""The Open Inference Protocol (KServe V2, REST) on every built-in and Ray endpoint.

- ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready`` (no authentication);
- ``GET /v2/models/{name}[/versions/{n}]``: the live model's metadata, its input and
  output tensors named and typed from the loaded model;
- ``GET /v2/models/{name}[/versions/{n}]/ready``;
- ``POST /v2/models/{name}[/versions/{n}]/infer``: JSON tensors or the binary tensor
  extension (``Inference-Header-Content-Length``), as Triton's clients send them.

An endpoint's model name is the endpoint's name; ``versions/{n}`` must be the version
this process has loaded for it. Authentication as on the rest of the API
(``Authorization: Token <key>`` or ``Bearer <key>``, with the ``invoke`` scope); the
answers are those of ``/invocations`` for the same input. Errors are
``{"error": "..."}`` with a 4xx or 503 status, as the protocol says.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import close_old_connections, connection

from accounts.authentication import InvocationTokenAuthentication
from accounts.roles import may_invoke
from accounts.throttling import Caller, InvocationThrottle
from common import jsonsafe
from deployments import ray_app, serving
from deployments.loader import InputError
from modelformats import jsonable

StartResponse = Callable[..., Any]

MODEL = re.compile(
    r"^/v2/models/(?P<name>[A-Za-z0-9._~-]+)(?:/versions/(?P<version>[^/]+))?"
    r"(?P<op>/ready|/infer)?/?$"
)
# One table for the replicas and here (deployments.ray_app imports no Django).
DATATYPES = {**ray_app.DATATYPES, "O": "BYTES"}
NUMPY = {v: k for k, v in DATATYPES.items()}
_datatype = ray_app.datatype


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: list | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or []


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def _send(
    start_response: StartResponse,
    status: int,
    body: Any,
    headers: list | None = None,
    binary: bytes = b"",
) -> list[bytes]:
    text = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    extra = list(headers or [])
    if binary:
        extra.append(("Inference-Header-Content-Length", str(len(text))))
        kind = "application/octet-stream"
    else:
        kind = "application/json"
    payload = text + binary
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [("Content-Type", kind), ("Content-Length", str(len(payload))), *extra],
    )
    return [payload]


def handle(
    environ: dict[str, Any], start_response: StartResponse, path: str
) -> Iterable[bytes]:
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        try:
            return _route(environ, start_response, path, method)
        finally:
            close_old_connections()
    except Refused as exc:
        return _send(start_response, exc.status, {"error": str(exc)}, exc.headers)


def _route(
    environ: dict[str, Any], start_response: StartResponse, path: str, method: str
) -> Iterable[bytes]:
    stripped = path.rstrip("/")
    if stripped in ("/v2", "/v2/health/live", "/v2/health/ready"):
        if method not in ("GET", "HEAD"):
            raise Refused(405, "Use GET.")
        if stripped == "/v2":
            return _send(
                start_response,
                200,
                {"name": "model-registry", "version": "1", "extensions": []},
            )
        if stripped == "/v2/health/live":
            return _send(start_response, 200, {"live": True})
        ready = _database_ok()
        return _send(start_response, 200 if ready else 503, {"ready": ready})
    match = MODEL.match(path)
    if match is None:
        raise Refused(404, f"No such path: {path}")
    name, version, op = match["name"], match["version"], match["op"]
    want = "POST" if op == "/infer" else "GET"
    if method != want and not (want == "GET" and method == "HEAD"):
        raise Refused(405, f"Use {want}.")
    _authenticate(environ, infer=op == "/infer")
    served = _served(name, version)
    if op == "/ready":
        return _send(start_response, 200, {"name": name, "ready": True})
    if op is None:
        return _send(start_response, 200, _metadata(name, served))
    body, binary = _read(environ)
    return _infer(start_response, name, served, body, binary)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _authenticate(environ: dict[str, Any], *, infer: bool) -> None:
    header = environ.get("HTTP_AUTHORIZATION", "").split()
    challenge = [("WWW-Authenticate", "Bearer")]
    if not header:
        raise Refused(401, "Authentication credentials were not provided.", challenge)
    if len(header) != 2 or header[0].lower() not in ("token", "bearer"):
        raise Refused(
            401, "Invalid token header: use 'Authorization: Bearer <key>'.", challenge
        )
    caller = Caller(environ)
    try:
        user, auth = InvocationTokenAuthentication().check_key(header[1], caller)
    except Exception as exc:
        wait = getattr(exc, "wait", None)
        if wait:
            raise Refused(
                429, str(getattr(exc, "detail", exc)), [("Retry-After", str(int(wait)))]
            ) from exc
        raise Refused(401, str(getattr(exc, "detail", exc)), challenge) from exc
    allowed = getattr(auth, "may_invoke", None)
    if allowed is None:
        allowed = may_invoke(user)
    if not allowed:
        raise Refused(403, "You need the invoke permission to call endpoints.")
    if infer and settings.REGISTRY_RATE_LIMITS.get("invocation") is not None:
        throttle = InvocationThrottle()
        if not throttle.allow_request(Caller(environ, user, auth), None):
            raise Refused(
                429,
                "Too many invocations with this token.",
                [("Retry-After", str(int(throttle.wait())))],
            )


@dataclass
class _Served:
    """What the protocol needs of an endpoint's live model, wherever it runs: its
    version, its metadata (``platform``, one input tensor, the outputs) and how to
    run rows through it."""

    version_number: int
    metadata: dict[str, Any]
    run: Callable[[list], dict[str, Any]]

    @property
    def input(self) -> dict[str, Any]:
        first: dict[str, Any] = self.metadata["inputs"][0]
        return first


def _served(name: str, version: str | None) -> _Served:
    """The live model of built-in endpoint ``name`` in this process, or of a ``ray``
    endpoint on its cluster (its replicas describe it; ``serving.answer`` runs it)."""
    try:
        try:
            live = serving.live_model(name)
        except serving.OnRay:
            number, described = serving.ray_model(name)
            served = _Served(
                number, described, lambda rows: serving.answer(name, rows)[1]["outputs"]
            )
        else:
            served = _Served(
                live.version_number,
                _builtin_metadata(live),
                lambda rows: serving.run(live, rows),
            )
    except serving.UnknownEndpoint as exc:
        raise Refused(404, f"Model {name!r} does not exist.") from exc
    except serving.NotServing as exc:
        raise Refused(503, str(exc)) from exc
    if version is not None and version != str(served.version_number):
        raise Refused(
            404,
            f"Version {version} of {name!r} is not loaded here; "
            f"this process serves version {served.version_number}.",
        )
    return served


def _shape(shape: Iterable[int | None]) -> list[int]:
    return [-1 if d is None else int(d) for d in shape]


def _builtin_metadata(live: serving.Live) -> dict[str, Any]:
    spec = live.predictor.spec
    return {
        "platform": type(live.predictor).__name__.lower(),
        "inputs": [
            {
                "name": spec.name,
                "datatype": _datatype(spec.dtype),
                "shape": _shape(spec.shape),
            }
        ],
        "outputs": [
            {"name": out, "datatype": DATATYPES.get(kind, "BYTES"), "shape": shape}
            for out, (kind, shape) in live.outputs.items()
        ],
    }


def _metadata(name: str, served: _Served) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [str(served.version_number)],
        "platform": served.metadata.get("platform", ""),
        "inputs": served.metadata["inputs"],
        "outputs": served.metadata.get("outputs", []),
    }


def _read(environ: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    limit = settings.REGISTRY_MAX_INVOCATION_SIZE
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise Refused(413, f"The request body is larger than {limit} bytes.")
    raw = environ["wsgi.input"].read(length) if length else b""
    header = environ.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
    binary = b""
    if header is not None:
        try:
            split = int(header)
        except ValueError as exc:
            raise Refused(400, "Inference-Header-Content-Length: not a number") from exc
        if not 0 <= split <= len(raw):
            raise Refused(400, "Inference-Header-Content-Length: beyond the body")
        raw, binary = raw[:split], raw[split:]
    try:
        body = jsonsafe.loads(raw)
    except jsonsafe.JSONInputError as exc:
        raise Refused(400, f"body: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise Refused(
            400, 'body: send {"inputs": [{"name", "shape", "datatype", ...}]}'
        )
    return body, binary


def _tensor(served: _Served, body: dict[str, Any], binary: bytes) -> list:
    """The request's one input tensor as the nested rows /invocations takes."""
    spec = served.input["name"]
    tensors = body["inputs"]
    if len(tensors) != 1 or not isinstance(tensors[0], dict):
        raise Refused(400, f"inputs: the model takes one tensor, {spec!r}")
    tensor = tensors[0]
    name = tensor.get("name")
    if name != spec:
        raise Refused(
            400, f"input {name!r}: the model's input tensor is named {spec!r}"
        )
    want = served.input["datatype"]
    if tensor.get("datatype") != want:
        raise Refused(
            400, f"input {name!r}: datatype {tensor.get('datatype')!r}, expected {want}"
        )
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or any(d < 0 for d in shape)
    ):
        raise Refused(400, f"input {name!r}: shape must be a list of sizes")
    limit = settings.REGISTRY_INVOCATION_MAX_ELEMENTS
    count = math.prod(shape)
    # Empty dimensions count as one: [10**12, 0] holds no value but a row each.
    if math.prod(max(d, 1) for d in shape) > limit:
        # Refused from the declared shape, before any array is built.
        raise Refused(
            413,
            f"input {name!r}: shape {shape} is over the limit of {limit} elements "
            "(REGISTRY_INVOCATION_MAX_ELEMENTS)",
        )
    dtype = np.dtype(NUMPY[want]) if want != "BYTES" else np.dtype(object)
    parameters = tensor.get("parameters") or {}
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    try:
        if size is not None:
            if want == "BYTES":
                raise Refused(400, f"input {name!r}: binary BYTES are not supported")
            if not isinstance(size, int) or size != len(binary):
                raise Refused(400, f"input {name!r}: binary_data_size does not match")
            array = np.frombuffer(binary, dtype=dtype.newbyteorder("<"))
        else:
            array = np.asarray(tensor.get("data"), dtype=dtype)
        if array.size != count:
            raise Refused(
                400,
                f"input {name!r}: {array.size} values for shape {shape} "
                f"({count} expected)",
            )
        return array.reshape(shape).tolist()
    except (ValueError, TypeError) as exc:
        raise Refused(400, f"input {name!r}: {exc}") from exc


def _infer(
    start_response: StartResponse,
    name: str,
    served: _Served,
    body: dict[str, Any],
    binary: bytes,
) -> list[bytes]:
    rows = _tensor(served, body, binary)
    try:
        outputs = served.run(rows)
    except (serving.TimedOut, serving.NotServing) as exc:
        raise Refused(503, str(exc)) from exc
    except InputError as exc:
        spec = served.input["name"]
        raise Refused(
            400, f"input {spec!r}: {str(exc).removeprefix('inputs: ')}"
        ) from exc
    # Outputs that came as JSON (from Ray) take the type the model declared.
    declared = {o["name"]: o["datatype"] for o in served.metadata.get("outputs", [])}
    parameters = body.get("parameters") or {}
    all_binary = bool(
        isinstance(parameters, dict) and parameters.get("binary_data_output")
    )
    wanted: dict[str, bool] = {}
    requested = body.get("outputs")
    if isinstance(requested, list) and requested:
        for item in requested:
            out = item.get("name") if isinstance(item, dict) else None
            if out not in outputs:
                raise Refused(400, f"output {out!r}: the model has no such output")
            params = item.get("parameters") or {}
            wanted[out] = bool(params.get("binary_data", all_binary))
    else:
        wanted = dict.fromkeys(outputs, all_binary)
    answered, blobs = [], []
    for out, as_binary in wanted.items():
        array = np.asarray(outputs[out])
        if declared.get(out, "BYTES") != "BYTES" and array.dtype.kind in "biuf":
            array = array.astype(NUMPY[declared[out]], copy=False)
        datatype = _datatype(array.dtype)
        entry: dict[str, Any] = {
            "name": out,
            "datatype": datatype,
            "shape": list(array.shape),
        }
        if datatype == "BYTES":
            items = [
                v if isinstance(v, str) else json.dumps(jsonable(v))
                for v in array.reshape(-1).tolist()
            ]
            if as_binary:
                blob = b"".join(
                    len(b).to_bytes(4, "little") + b
                    for b in (i.encode() for i in items)
                )
            else:
                entry["data"] = items
        elif as_binary:
            blob = array.astype(array.dtype.newbyteorder("<")).tobytes()
        else:
            entry["data"] = array.reshape(-1).tolist()
        if as_binary:
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        answered.append(entry)
    answer: dict[str, Any] = {
        "model_name": name,
        "model_version": str(served.version_number),
        "outputs": answered,
    }
    if isinstance(body.get("id"), str):
        answer["id"] = body["id"]
    return _send(
        start_response,
        200,
        answer,
        [("X-Model-Version", str(served.version_number))],
        b"".join(blobs),
    )
