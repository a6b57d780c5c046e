"""Predict a whole table of labelled rows (an evaluation set) with a stored model.

Runs in the limited child process (``python -m modelformats predict PATH FORMAT``);
the caller computes metrics from the answer. Columns are matched by name where the
model knows its feature names, else by position and count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelformats.base import LoadError, Trust
from modelformats.checks import load
from modelformats.predictor import InputError, Predictor, jsonable


class EvaluationError(LoadError):
    """The model could not be run on the rows; the message says why."""


def feature_names(predictor: Predictor) -> list[str] | None:
    """The column names the model was trained on, where it recorded them."""
    names = getattr(getattr(predictor, "model", None), "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def ordered(predictor: Predictor, columns: list[str], rows: list[list[float]]) -> Any:
    """The rows with their columns in the order the model takes, or an error naming
    the columns that do not match."""
    names = feature_names(predictor)
    if names is not None:
        missing = [n for n in names if n not in columns]
        if missing:
            raise EvaluationError(
                f"the model expects columns {names}; the evaluation set lacks "
                f"{missing} (it has {columns})"
            )
        index = [columns.index(n) for n in names]
        return [[row[i] for i in index] for row in rows]
    width = predictor.spec.shape[-1] if predictor.spec.shape else None
    if width is not None and width != len(columns):
        raise EvaluationError(
            f"the model takes {width} feature columns; the evaluation set has "
            f"{len(columns)} ({', '.join(columns)})"
        )
    return rows


def _classes(predictor: Predictor) -> list[Any] | None:
    classes = getattr(getattr(predictor, "model", None), "classes_", None)
    return jsonable(np.asarray(classes)) if classes is not None else None


def _probabilities(
    outputs: dict[str, Any], classes: list[Any] | None
) -> tuple[Any, list[Any] | None]:
    """Class probabilities as a matrix (rows by classes) and the classes in column
    order, from either a plain array or ONNX's list of {class: probability}."""
    found = outputs.get("probabilities", outputs.get("output_probability"))
    if found is None:
        return None, classes
    if isinstance(found, list) and found and isinstance(found[0], dict):
        keys = sorted(found[0])
        return [[row[k] for k in keys] for row in found], jsonable(keys)
    return jsonable(np.asarray(found)), classes


def predict_table(
    path: str, fmt: str, *, trust: Trust, columns: list[str], rows: list[list[float]]
) -> dict[str, Any]:
    """Load the model and predict every row: ``{"predictions", "probabilities",
    "classes"}``; raises ``LoadError`` (or ``EvaluationError``)."""
    predictor = load(path, fmt, trust=trust)
    try:
        batch = predictor.coerce(ordered(predictor, columns, rows))
        outputs = predictor.predict(batch)
    except InputError as exc:
        raise EvaluationError(
            f"the evaluation set does not fit the model: {exc}"
        ) from exc
    except LoadError:
        raise
    except Exception as exc:
        raise EvaluationError(
            f"prediction failed: {type(exc).__name__}: {exc}"
        ) from exc
    label = next(
        (outputs[k] for k in ("label", "output_label", "variable") if k in outputs),
        next(iter(outputs.values()), None),
    )
    predictions = np.asarray(label).reshape(len(rows), -1)
    if predictions.shape[1] != 1:
        raise EvaluationError(
            f"the model answers {predictions.shape[1]} values per row; "
            "evaluation needs one prediction per row"
        )
    probabilities, classes = _probabilities(outputs, _classes(predictor))
    return {
        "predictions": jsonable(predictions[:, 0]),
        "probabilities": probabilities,
        "classes": classes,
    }
