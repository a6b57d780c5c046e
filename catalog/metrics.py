"""Metric definitions of evaluation sets: scikit-learn metrics by name, each for one
task type, computed from a model's predictions (and class probabilities where a
metric needs them)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from catalog.models import EvaluationTask
from common.errors import Invalid


@dataclass(frozen=True)
class MetricDefinition:
    task: str
    needs_probabilities: bool
    compute: Callable[..., float]


def _accuracy(y: Any, p: Any, **_: Any) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y, p))


def _averaged(name: str) -> Callable[..., float]:
    def compute(y: Any, p: Any, **_: Any) -> float:
        from sklearn import metrics

        average = (
            "binary" if len(set(np.concatenate([y, p]).tolist())) <= 2 else "macro"
        )
        scorer = getattr(metrics, f"{name}_score")
        return float(scorer(y, p, average=average, zero_division=0))

    return compute


def _roc_auc(y: Any, p: Any, *, proba: Any, classes: Any) -> float:
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1], labels=classes))
    return float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))


def _log_loss(y: Any, p: Any, *, proba: Any, classes: Any) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, proba, labels=classes))


def _rmse(y: Any, p: Any, **_: Any) -> float:
    from sklearn.metrics import mean_squared_error

    return float(math.sqrt(mean_squared_error(y, p)))


def _mae(y: Any, p: Any, **_: Any) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(y, p))


def _r2(y: Any, p: Any, **_: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, p))


CLASSIFICATION, REGRESSION = EvaluationTask.CLASSIFICATION, EvaluationTask.REGRESSION
METRICS: dict[str, MetricDefinition] = {
    "accuracy": MetricDefinition(CLASSIFICATION, False, _accuracy),
    "f1": MetricDefinition(CLASSIFICATION, False, _averaged("f1")),
    "precision": MetricDefinition(CLASSIFICATION, False, _averaged("precision")),
    "recall": MetricDefinition(CLASSIFICATION, False, _averaged("recall")),
    "roc_auc": MetricDefinition(CLASSIFICATION, True, _roc_auc),
    "log_loss": MetricDefinition(CLASSIFICATION, True, _log_loss),
    "rmse": MetricDefinition(REGRESSION, False, _rmse),
    "mae": MetricDefinition(REGRESSION, False, _mae),
    "r2": MetricDefinition(REGRESSION, False, _r2),
}
DEFAULT_METRICS = {
    CLASSIFICATION: ["accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"],
    REGRESSION: ["rmse", "mae", "r2"],
}


def metric_names(task: str, names: Any) -> list[str]:
    """The metric definitions of a set of ``task``: the given names, each known and
    fitting the task, or the task's defaults."""
    if names in (None, "", []):
        return list(DEFAULT_METRICS[EvaluationTask(task)])
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Invalid.on("metrics", "Give metric names as a list or comma-separated.")
    for name in names:
        if name not in METRICS:
            known = ", ".join(sorted(METRICS))
            raise Invalid.on("metrics", f"Unknown metric {name!r}; one of {known}.")
        if METRICS[name].task != task:
            raise Invalid.on(
                "metrics",
                f"{name} is a {METRICS[name].task} metric; this set's task is {task}.",
            )
    return list(dict.fromkeys(names))


def compute_metrics(
    names: list[str],
    labels: list[Any],
    answer: dict[str, Any],
) -> tuple[dict[str, float], list[str]]:
    """The metrics ``names`` of the model's ``answer`` against ``labels``, and why
    any could not be computed."""
    predictions = answer["predictions"]
    y, p = _comparable(labels, predictions)
    proba = answer.get("probabilities")
    classes = answer.get("classes")
    values: dict[str, float] = {}
    missing: list[str] = []
    for name in names:
        definition = METRICS[name]
        if definition.needs_probabilities and proba is None:
            missing.append(f"{name}: the model gives no class probabilities")
            continue
        try:
            extra = {}
            if definition.needs_probabilities:
                matrix = np.asarray(proba, dtype=float)
                # float32 outputs (ONNX) sum to one only within float32 precision
                matrix = matrix / matrix.sum(axis=1, keepdims=True)
                extra = {
                    "proba": matrix,
                    "classes": _comparable(classes or [], classes or [])[0]
                    if classes
                    else None,
                }
            value = definition.compute(y, p, **extra)
        except (ValueError, TypeError, IndexError) as exc:
            missing.append(f"{name}: {exc}")
            continue
        if math.isfinite(value):
            values[name] = value
        else:
            missing.append(f"{name}: not a finite number")
    return values, missing


def _comparable(labels: list[Any], predictions: list[Any]) -> tuple[Any, Any]:
    """Labels and predictions as arrays of one kind: numbers where both are numeric
    (a CSV's "1" equals a model's 1), else text."""
    try:
        return (
            np.asarray(labels, dtype=float),
            np.asarray(predictions, dtype=float),
        )
    except (ValueError, TypeError):
        return (
            np.asarray([str(v) for v in labels]),
            np.asarray([str(v) for v in predictions]),
        )
