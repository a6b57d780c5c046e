"""Real, tiny models trained in the tests and exported the way users export them."""

from __future__ import annotations

import io
import pickle
from functools import cache

import numpy as np


@cache
def iris_classifier():  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(features.astype(np.float32), target)
    return model, features.astype(np.float32), target


@cache
def iris_onnx() -> bytes:
    from skl2onnx import to_onnx

    model, features, _ = iris_classifier()
    onx = to_onnx(
        model, features[:1], target_opset=17, options={id(model): {"zipmap": False}}
    )
    return onx.SerializeToString()


@cache
def iris_skops() -> bytes:
    import skops.io

    model, _, _ = iris_classifier()
    return skops.io.dumps(model)


@cache
def iris_pickle() -> bytes:
    model, _, _ = iris_classifier()
    return pickle.dumps(model, protocol=5)


@cache
def iris_joblib() -> bytes:
    import joblib

    model, _, _ = iris_classifier()
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def iris_accuracy() -> float:
    model, features, target = iris_classifier()
    return float(model.score(features, target))


@cache
def slow_skops(trees: int = 400) -> bytes:
    """A forest big enough that loading it takes a noticeable moment."""
    import skops.io
    from sklearn.ensemble import RandomForestClassifier

    _, features, target = iris_classifier()
    model = RandomForestClassifier(n_estimators=trees, random_state=0).fit(
        features, target
    )
    return skops.io.dumps(model)


@cache
def iris_skops_naming_a_fraction() -> bytes:
    """The iris classifier carrying a ``fractions.Fraction``: a harmless type that
    skops does not trust unless told to."""
    import copy
    import fractions

    import skops.io

    model = copy.deepcopy(iris_classifier()[0])
    model.note = fractions.Fraction(1, 3)
    return skops.io.dumps(model)
