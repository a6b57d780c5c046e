"""Tiny real models for the demo catalog: scikit-learn on iris and breast-cancer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class DemoModel:
    filename: str
    content: bytes
    description: str
    metrics: dict[str, float]
    hyperparameters: dict[str, Any]
    sample_payload: dict[str, Any]
    input_schema: dict[str, Any]
    lineage: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _split(features: np.ndarray, target: np.ndarray) -> tuple[Any, Any, Any, Any]:
    from sklearn.model_selection import train_test_split

    return train_test_split(
        features.astype(np.float32),
        target,
        test_size=0.3,
        random_state=7,
        stratify=target,
    )


def _onnx(model: Any, sample: np.ndarray) -> bytes:
    from skl2onnx import to_onnx

    options = {id(model): {"zipmap": False}}
    return to_onnx(
        model, sample[:1], target_opset=17, options=options
    ).SerializeToString()


def _skops(model: Any) -> bytes:
    import skops.io

    return skops.io.dumps(model)


def _schema(names: list[str]) -> dict[str, Any]:
    return {
        "type": "tensor",
        "dtype": "float32",
        "shape": [-1, len(names)],
        "names": names,
    }


def iris_models() -> list[DemoModel]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    data = load_iris()
    x_train, x_test, y_train, y_test = _split(data.data, data.target)
    names = [n.replace(" (cm)", "").replace(" ", "_") for n in data.feature_names]
    payload = {"inputs": x_test[:3].round(2).tolist()}
    out = []
    candidates: list[tuple[Any, dict[str, Any], str]] = [
        (LogisticRegression, {"C": 0.1, "max_iter": 300}, "onnx"),
        (DecisionTreeClassifier, {"max_depth": 3, "random_state": 0}, "skops"),
        (LogisticRegression, {"C": 1.0, "max_iter": 300}, "onnx"),
    ]
    for estimator, params, fmt in candidates:
        model = estimator(**params).fit(x_train, y_train)
        content = _onnx(model, x_train) if fmt == "onnx" else _skops(model)
        out.append(
            DemoModel(
                filename=f"iris-{estimator.__name__.lower()}.{fmt}",
                content=content,
                description=f"{estimator.__name__} on the iris flowers ({fmt}).",
                metrics={
                    "accuracy": round(float(model.score(x_test, y_test)), 4),
                    "train_accuracy": round(float(model.score(x_train, y_train)), 4),
                },
                hyperparameters=params,
                sample_payload=payload,
                input_schema=_schema(names),
                lineage={
                    "dataset_uri": "sklearn://datasets/iris",
                    "framework": "scikit-learn",
                    "task": "classification",
                },
                tags={"team": "demo", "dataset": "iris"},
            )
        )
    return out


def breast_cancer_models() -> list[DemoModel]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = _split(data.data, data.target)
    names = [n.replace(" ", "_") for n in data.feature_names]
    payload = {"inputs": x_test[:2].round(3).tolist()}
    candidates: list[tuple[Any, dict[str, Any], str]] = [
        (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            {"model": "logistic_regression", "scaler": "standard"},
            "onnx",
        ),
        (
            RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0),
            {"model": "random_forest", "n_estimators": 20, "max_depth": 4},
            "onnx",
        ),
    ]
    out = []
    for model, params, fmt in candidates:
        model.fit(x_train, y_train)
        auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
        out.append(
            DemoModel(
                filename=f"breast-cancer-{params['model']}.{fmt}",
                content=_onnx(model, x_train),
                description=f"{params['model'].replace('_', ' ')} for tumour classification.",
                metrics={
                    "accuracy": round(float(model.score(x_test, y_test)), 4),
                    "auc": round(float(auc), 4),
                },
                hyperparameters=params,
                sample_payload=payload,
                input_schema=_schema(names),
                lineage={
                    "dataset_uri": "sklearn://datasets/breast_cancer",
                    "framework": "scikit-learn",
                    "task": "classification",
                },
                tags={"team": "demo", "dataset": "breast-cancer"},
            )
        )
    return out
