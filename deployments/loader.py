"""Load a model file and run predictions: ONNX through onnxruntime, skops through
scikit-learn (pickle/joblib only where an admin allowed it for the group).

No Django here: ``python -m deployments.loader PATH FORMAT`` is the child process in
which a deployment first loads and warms a model, with resource limits and without
the service's environment. The serving layer uses the same ``Predictor`` in-process
once a model has passed that check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from catalog import sandbox

ONNX_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


class InputError(ValueError):
    """The request's inputs do not fit the model; the message says how."""


class LoadError(RuntimeError):
    """The model could not be loaded or did not answer its warm-up."""


@dataclass
class InputSpec:
    name: str
    dtype: Any
    shape: list[int | None]  # None for a free dimension (the batch)


class Predictor:
    """A loaded model: ``predict`` takes a 2-D batch and returns named outputs."""

    spec: InputSpec

    def predict(self, batch: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    def coerce(self, inputs: Any) -> np.ndarray:
        """Turn JSON inputs into the batch the model takes, or raise InputError."""
        if not isinstance(inputs, list) or not inputs:
            raise InputError("inputs: must be a non-empty list of rows")
        if self.spec.dtype is not np.bool_ and _holds_bool(inputs):
            # numpy would read true as 1: a client's mistake must not become a number.
            raise InputError(f"inputs: {_why_not_numeric(inputs, self.spec)}")
        try:
            batch = np.asarray(inputs, dtype=self.spec.dtype)
        except (ValueError, TypeError) as exc:
            raise InputError(f"inputs: {_why_not_numeric(inputs, self.spec)}") from exc
        shape = self.spec.shape
        if batch.ndim != len(shape):
            raise InputError(
                f"inputs: expected {len(shape)}-D input shaped {_shape(shape)}, "
                f"got {batch.ndim}-D shaped {list(batch.shape)}"
            )
        for axis, (want, got) in enumerate(zip(shape, batch.shape, strict=True)):
            if want is not None and want != got:
                raise InputError(
                    f"inputs: dimension {axis} must be {want}, got {got} "
                    f"(expected shape {_shape(shape)})"
                )
        if batch.dtype.kind == "f" and not np.isfinite(batch).all():
            raise InputError(
                "inputs: values must be finite numbers (no NaN or Infinity)"
            )
        return batch


def declared_shape(schema: Any) -> list[int | None] | None:
    """``shape`` of an input schema such as ``{"dtype": ..., "shape": [-1, 4]}``;
    None where the schema declares no usable shape (it is free-form metadata)."""
    shape = schema.get("shape") if isinstance(schema, dict) else None
    if not isinstance(shape, list) or not shape:
        return None
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        return None
    return [d if d > 0 else None for d in shape]


def check_shape(batch: np.ndarray, shape: list[int | None] | None, source: str) -> None:
    """Raise InputError if ``batch`` does not fit ``shape`` (None: nothing declared)."""
    if shape is None:
        return
    if batch.ndim != len(shape) or any(
        want is not None and want != got
        for want, got in zip(shape, batch.shape, strict=False)
    ):
        raise InputError(
            f"inputs: shaped {list(batch.shape)}, but {source} declares {_shape(shape)}"
        )


def _shape(shape: list[int | None]) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _holds_bool(inputs: list[Any]) -> bool:
    """True if any value of the nested lists is a JSON boolean."""
    stack = [inputs]
    while stack:
        for value in stack.pop():
            if value is True or value is False:
                return True
            if type(value) is list:
                stack.append(value)
    return False


def _why_not_numeric(inputs: list[Any], spec: InputSpec) -> str:
    kind = np.dtype(spec.dtype).name
    for index, row in enumerate(inputs):
        values = row if isinstance(row, list) else [row]
        while any(isinstance(value, list) for value in values):
            values = [
                v
                for value in values
                for v in (value if isinstance(value, list) else [value])
            ]
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return (
                    f"row {index} holds {type(value).__name__} {str(value)[:40]!r}; "
                    f"the model takes {kind} numbers"
                )
    lengths = sorted({len(r) for r in inputs if isinstance(r, list)})
    if len(lengths) > 1:
        return f"rows have different lengths {lengths}; expected shape {_shape(spec.shape)}"
    return f"cannot be read as {kind} numbers shaped {_shape(spec.shape)}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


class OnnxPredictor(Predictor):
    def __init__(self, path: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        first = self.session.get_inputs()[0]
        if first.type not in ONNX_DTYPES:
            raise LoadError(f"input {first.name!r} has unsupported type {first.type}")
        shape = [d if isinstance(d, int) and d > 0 else None for d in first.shape]
        self.spec = InputSpec(first.name, ONNX_DTYPES[first.type], shape)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def predict(self, batch: np.ndarray) -> dict[str, Any]:
        results = self.session.run(None, {self.spec.name: batch})
        return dict(zip(self.output_names, results, strict=True))


class SklearnPredictor(Predictor):
    def __init__(self, model: Any):
        self.model = model
        width = getattr(model, "n_features_in_", None)
        self.spec = InputSpec(
            "inputs", np.float64, [None, int(width) if width else None]
        )

    def predict(self, batch: np.ndarray) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        if hasattr(self.model, "predict_proba") and hasattr(self.model, "classes_"):
            outputs["label"] = self.model.predict(batch)
            outputs["probabilities"] = self.model.predict_proba(batch)
        else:
            outputs["variable"] = self.model.predict(batch)
        return outputs


def _load_skops(path: str) -> Predictor:
    import skops.io

    from catalog.formats import SKOPS_EXTRA_TRUSTED, _extra_trusted

    untrusted = skops.io.get_untrusted_types(file=path)
    trusted = [t for t in untrusted if t in SKOPS_EXTRA_TRUSTED or t in _extra_trusted]
    if len(trusted) != len(untrusted):
        raise LoadError("skops file names untrusted types")
    return SklearnPredictor(skops.io.load(path, trusted=trusted))


def _load_pickle(path: str) -> Predictor:
    import joblib

    return SklearnPredictor(joblib.load(path))  # only for groups an admin trusts


LOADERS: dict[str, Callable[[str], Predictor]] = {
    "onnx": OnnxPredictor,
    "skops": _load_skops,
    "pickle": _load_pickle,
    "joblib": _load_pickle,
}


def load(path: str, fmt: str) -> Predictor:
    loader = LOADERS.get(fmt)
    if loader is None:
        raise LoadError(f"no loader for format {fmt!r}")
    try:
        return loader(path)
    except (LoadError, MemoryError):
        raise
    except Exception as exc:
        raise LoadError(
            f"loading the {fmt} model failed: {type(exc).__name__}: {exc}"
        ) from exc


def warm_up_inputs(
    predictor: Predictor, payload: Any, declared: list[int | None] | None = None
) -> Any:
    """The sample payload's inputs, or one generated row of zeros shaped as the
    version's schema declares (else as the model takes)."""
    if isinstance(payload, dict):
        payload = payload.get("inputs", payload.get("instances"))
    if payload:
        return payload
    shape = (
        declared if declared and len(declared) == len(predictor.spec.shape) else None
    )
    dims = [
        d or m or 1
        for d, m in zip(
            shape or predictor.spec.shape, predictor.spec.shape, strict=True
        )
    ]
    return np.zeros(dims, dtype=predictor.spec.dtype).tolist()


def check(
    path: str, fmt: str, payload: Any, declared: list[int | None] | None = None
) -> dict[str, Any]:
    """Load, then run the warm-up; returns what a deployment log reports."""
    predictor = load(path, fmt)
    inputs = warm_up_inputs(predictor, payload, declared)
    try:
        batch = predictor.coerce(inputs)
        check_shape(batch, declared, "the version's input_schema")
        outputs = predictor.predict(batch)
    except InputError as exc:
        raise LoadError(f"warm-up input does not fit the model: {exc}") from exc
    except Exception as exc:
        raise LoadError(
            f"warm-up prediction failed: {type(exc).__name__}: {exc}"
        ) from exc
    first = next(iter(outputs.values()), None)
    return {
        "input": {
            "name": predictor.spec.name,
            "dtype": np.dtype(predictor.spec.dtype).name,
            "shape": predictor.spec.shape,
        },
        "outputs": sorted(outputs),
        "rows": len(inputs),
        "sample": _jsonable(first)[:3] if first is not None else None,
    }


def check_isolated(
    path: str,
    fmt: str,
    payload: Any,
    *,
    timeout: float,
    memory: int,
    declared: list[int | None] | None = None,
) -> dict[str, Any]:
    """``check`` in a child process with memory/CPU/time limits and a bare environment."""
    job = json.dumps({"payload": payload, "declared": declared}).encode()
    try:
        outcome = sandbox.run(
            "deployments.loader", [path, fmt], stdin=job, timeout=timeout, memory=memory
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(
            f"loading and warming the model took over {timeout:g} s "
            "(the loader's time limit)"
        ) from exc
    result = outcome.result
    if result is None:
        raise LoadError(
            f"the loader process died (exit code {outcome.returncode}) "
            f"{outcome.stderr_tail}".strip()
        )
    if not result.get("ok"):
        raise LoadError(result.get("error", "the loader refused the model"))
    return result["report"]


def _main(argv: list[str]) -> int:
    path, fmt = argv[0], argv[1]
    try:
        job = json.loads(sys.stdin.read() or "{}")
        report = check(path, fmt, job.get("payload"), job.get("declared"))
        print(json.dumps({"ok": True, "report": report}))
    except MemoryError:
        print(
            json.dumps(
                {"ok": False, "error": "the model needs more memory than allowed"}
            )
        )
    except LoadError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
