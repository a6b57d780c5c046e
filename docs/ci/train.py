"""Train a small model, export it to ONNX, and write metrics and a sample payload.

Used by the CI examples next to this file: `python train.py out/`.
"""

import json
import sys
from pathlib import Path

import numpy as np
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

out = Path(sys.argv[1] if len(sys.argv) > 1 else "out")
out.mkdir(parents=True, exist_ok=True)
features, target = load_iris(return_X_y=True)
features = features.astype(np.float32)
x_train, x_test, y_train, y_test = train_test_split(features, target, random_state=0)
model = LogisticRegression(max_iter=500).fit(x_train, y_train)
onnx_model = to_onnx(model, x_train[:1], options={id(model): {"zipmap": False}})
(out / "model.onnx").write_bytes(onnx_model.SerializeToString())
(out / "metrics.json").write_text(json.dumps({"accuracy": model.score(x_test, y_test)}))
(out / "input.json").write_text(json.dumps({"inputs": x_test[:2].tolist()}))
print(f"accuracy {model.score(x_test, y_test):.3f}; wrote {out}/model.onnx")
