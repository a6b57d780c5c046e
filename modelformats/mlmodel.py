"""MLflow model folders: the manifest of their files and the model file ``MLmodel``
names, decided by its flavours. Django-free, like the rest of the package.

A folder is accepted when ``MLmodel`` names one model file the registry can check
(the ``onnx`` flavour's ``data``; a ``sklearn`` flavour serialized with skops) and
declares no pickle-based flavour, unless the caller trusts pickle. The model file's
bytes are then checked like a single upload: the name only says which file.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from modelformats.base import ArtifactRefused, Trust

MLMODEL = "MLmodel"
MAX_FILES = 1000
MAX_PATH = 1024
MAX_MLMODEL = 1024 * 1024
# Flavours whose loaders unpickle (cloudpickle, torch.load, joblib ...).
SAFE_PYFUNC_LOADERS = {"mlflow.onnx", "mlflow.sklearn"}


def clean_path(path: Any) -> str:
    """A relative POSIX path inside the folder, or ``ArtifactRefused``."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise ArtifactRefused(f"File path {str(path)[:80]!r} is empty or too long.")
    parts = path.split("/")
    bad = {"", ".", ".."}
    if path.startswith("/") or "\\" in path or "\x00" in path or bad & set(parts):
        raise ArtifactRefused(
            f"File path {path[:80]!r} must be relative, without '.', '..' or '\\'."
        )
    return path


def manifest_digest(entries: list[dict[str, Any]]) -> str:
    """One SHA-256 over the manifest's paths, sizes and digests (sorted by path)."""
    rows = sorted(
        (
            {"path": e["path"], "size": e["size"], "sha256": e["sha256"]}
            for e in entries
        ),
        key=lambda row: row["path"],
    )
    text = json.dumps(rows, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read(text: bytes) -> dict[str, Any]:
    """``MLmodel``'s YAML as a mapping with a ``flavors`` mapping."""
    if len(text) > MAX_MLMODEL:
        raise ArtifactRefused("MLmodel is larger than 1 MiB.")
    try:
        data = yaml.safe_load(text.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ArtifactRefused(f"MLmodel is not readable YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise ArtifactRefused("MLmodel has no 'flavors' mapping.")
    return data


def model_file(mlmodel: dict[str, Any], *, trust: Trust) -> tuple[str, str]:
    """The model file's path in the folder and the format its flavour declares."""
    flavors: dict[str, Any] = mlmodel["flavors"]
    _refuse_pickle(flavors, trust)
    onnx = flavors.get("onnx")
    if isinstance(onnx, dict) and isinstance(onnx.get("data"), str):
        return clean_path(onnx["data"]), "onnx"
    sklearn = flavors.get("sklearn")
    if isinstance(sklearn, dict) and sklearn.get("serialization_format") == "skops":
        return clean_path(str(sklearn.get("pickled_model", ""))), "skops"
    if trust.pickle:
        for flavor in flavors.values():
            found = _declared_file(flavor)
            if found:
                return clean_path(found), "pickle"
    names = ", ".join(sorted(flavors)) or "none"
    raise ArtifactRefused(
        f"MLmodel names no model file the registry can check (flavours: {names}); "
        "an ONNX model or a skops-serialized sklearn model is accepted.",
        detected=names,
    )


def _declared_file(flavor: Any) -> str | None:
    if not isinstance(flavor, dict):
        return None
    for field in ("data", "pickled_model", "model_path"):
        if isinstance(flavor.get(field), str):
            return str(flavor[field])
    return None


def _refuse_pickle(flavors: dict[str, Any], trust: Trust) -> None:
    if trust.pickle:
        return
    pyfunc = flavors.get("python_function")
    loader = pyfunc.get("loader_module") if isinstance(pyfunc, dict) else None
    sklearn = flavors.get("sklearn")
    pickled = (
        (pyfunc is not None and loader not in SAFE_PYFUNC_LOADERS)
        or (isinstance(pyfunc, dict) and "cloudpickle_version" in pyfunc)
        or (
            isinstance(sklearn, dict) and sklearn.get("serialization_format") != "skops"
        )
        or any(f not in {"onnx", "sklearn", "python_function"} for f in flavors)
    )
    if pickled:
        raise ArtifactRefused(
            f"MLmodel declares a pickle-based flavour ({', '.join(sorted(flavors))}); "
            "this group does not allow pickle.",
            detected="pickle",
        )
