"""Accept a file, load it, warm it up: in this process, for callers that already
isolate the work or handle small files."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelformats.base import ArtifactRefused, Format, LoadError, Trust
from modelformats.formats import HEAD_SIZE, by_name, detect
from modelformats.predictor import InputError, Predictor, check_shape, jsonable


def identify(path: str, *, trust: Trust) -> Format:
    """The format of the file at ``path`` from its first bytes, admitted under
    ``trust`` (what needs no more than the name: empty, unknown and untrusted
    pickle files are refused); the whole-file check is ``inspect``'s."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_SIZE)
    if not head:
        raise ArtifactRefused("The artifact is empty.", detected="empty")
    fmt = detect(head)
    if fmt is None:
        raise ArtifactRefused(
            f"Unrecognised file format (first bytes {head[:8].hex()}); "
            "upload an ONNX or skops model.",
            detected="unknown",
        )
    fmt.admit(trust)
    return fmt


def inspect(path: str, *, trust: Trust) -> str:
    """Detect and check the file at ``path``; return the format name or raise
    ``ArtifactRefused``."""
    fmt = identify(path, trust=trust)
    fmt.check(path, trust=trust)
    return fmt.name


def load(path: str, fmt: str, *, trust: Trust) -> Predictor:
    """Load a file that ``inspect`` accepted as ``fmt``; raises ``LoadError``."""
    found = by_name(fmt)
    if found is None:
        raise LoadError(f"no loader for format {fmt!r}")
    try:
        return found.load(path, trust=trust)
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


def load_and_warm(
    path: str,
    fmt: str,
    *,
    trust: Trust,
    payload: Any,
    declared: list[int | None] | None = None,
) -> dict[str, Any]:
    """Load, then run the warm-up; returns what a deployment log reports."""
    predictor = load(path, fmt, trust=trust)
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
        "sample": jsonable(first)[:3] if first is not None else None,
    }
