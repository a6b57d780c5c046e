"""A loaded model as the serving layer sees it: JSON inputs in, named outputs out.

Everything here runs per request, so it does only what each request needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class InputError(ValueError):
    """The request's inputs do not fit the model; the message says how."""


class PredictTimeout(Exception):
    """The model did not answer within the time limit; its run was stopped."""

    def __init__(self, seconds: float):
        super().__init__(f"the model did not answer within {seconds:g} s")
        self.seconds = seconds


@dataclass
class InputSpec:
    name: str
    dtype: Any
    shape: list[int | None]  # None for a free dimension (the batch)


class Predictor:
    """A loaded model: ``predict`` takes a 2-D batch and returns named outputs."""

    spec: InputSpec

    @property
    def stopped(self) -> bool:
        """The model can answer no more (a child process that died or was stopped):
        the serving layer loads it again."""
        return False

    def predict(
        self, batch: np.ndarray, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """The model's outputs for ``batch``. A format that can stop a run stops it
        after ``timeout`` seconds and raises ``PredictTimeout``; the others run it
        to its end."""
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


def count_values(inputs: Any, limit: int) -> int:
    """The values and lists in nested JSON ``inputs``, counted up to ``limit + 1``
    (no further: a caller only needs to know it is over)."""
    count, stack = 0, [inputs]
    while stack:
        value = stack.pop()
        count += 1
        if count > limit:
            return count
        if type(value) is list:
            stack.extend(value)
    return count


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars turned into JSON-ready Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


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
