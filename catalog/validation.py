"""Checks on metadata that API, admin and commands share; each names the field at fault."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from common.errors import Invalid

TAG_KEY_RE = re.compile(r"^[A-Za-z0-9_.\/=+@ -]{1,128}\Z")
METRIC_NAME_RE = re.compile(r"^[A-Za-z0-9_.\/-]{1,64}\Z")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TAGS = 50
MAX_METADATA_KEYS = 50
MAX_METRICS = 200
LINEAGE_KEYS = (
    "dataset_uri",
    "code_repository",
    "commit",
    "pipeline_run",
    "project",
    "framework",
    "framework_version",
    "task",
)
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


def _text(
    field: str, value: Any, *, max_length: int, allow_newlines: bool = False
) -> str:
    if not isinstance(value, str):
        raise Invalid.on(field, "Must be a string.")
    if len(value) > max_length:
        raise Invalid.on(field, f"At most {max_length} characters.")
    bad = CONTROL_RE.search(value) or (
        not allow_newlines and re.search(r"[\r\n]", value)
    )
    if bad:
        raise Invalid.on(field, "Control characters are not allowed.")
    return value


def _json_size(field: str, value: Any, limit: int) -> None:
    if len(json.dumps(value, allow_nan=False, default=str)) > limit:
        raise Invalid.on(field, f"At most {limit} bytes as JSON.")


def tags(value: Any, field: str = "tags") -> dict[str, str]:
    """Tags: at most 50 ``key -> value`` strings; keys may not contain ``:``."""
    if not isinstance(value, dict):
        raise Invalid.on(field, "Must be a JSON object of key → value strings.")
    if len(value) > MAX_TAGS:
        raise Invalid.on(field, f"At most {MAX_TAGS} tags.")
    for key, val in value.items():
        if not TAG_KEY_RE.match(key):
            raise Invalid.on(
                field,
                f"Tag key {key[:40]!r} must be 1-128 letters, digits, "
                "spaces or _ . / = + - @ (no ':').",
            )
        _text(f"{field}.{key}", val, max_length=256)
    return dict(value)


def customer_metadata(value: Any, field: str = "customer_metadata") -> dict[str, str]:
    if not isinstance(value, dict):
        raise Invalid.on(field, "Must be a JSON object of string → string.")
    if len(value) > MAX_METADATA_KEYS:
        raise Invalid.on(field, f"At most {MAX_METADATA_KEYS} keys.")
    for key, val in value.items():
        _text(field, key, max_length=128)
        if not key:
            raise Invalid.on(field, "Keys must not be empty.")
        _text(f"{field}.{key}", val, max_length=256)
    return dict(value)


def metrics(value: Any, field: str = "metrics") -> dict[str, float]:
    if not isinstance(value, dict):
        raise Invalid.on(field, "Must be a JSON object of metric name → number.")
    if len(value) > MAX_METRICS:
        raise Invalid.on(field, f"At most {MAX_METRICS} metrics.")
    out: dict[str, float] = {}
    for key, val in value.items():
        if not METRIC_NAME_RE.match(key):
            raise Invalid.on(
                field,
                f"Metric name {key[:40]!r} must be 1-64 letters, digits or _ . / -.",
            )
        if isinstance(val, bool) or not isinstance(val, int | float):
            raise Invalid.on(f"{field}.{key}", "Must be a number.")
        if not math.isfinite(val):
            raise Invalid.on(f"{field}.{key}", "Must be a finite number.")
        out[key] = float(val)
    return out


def hyperparameters(value: Any, field: str = "hyperparameters") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid.on(field, "Must be a JSON object.")
    _json_size(field, value, 64 * 1024)
    return value


def lineage(value: Any, field: str = "lineage") -> dict[str, str]:
    if not isinstance(value, dict):
        raise Invalid.on(
            field, f"Must be a JSON object with keys among {', '.join(LINEAGE_KEYS)}."
        )
    unknown = sorted(set(value) - set(LINEAGE_KEYS))
    if unknown:
        raise Invalid.on(
            field,
            f"Unknown key(s) {', '.join(unknown)}; use {', '.join(LINEAGE_KEYS)}.",
        )
    return {k: _text(f"{field}.{k}", v, max_length=2048) for k, v in value.items()}


def json_document(
    value: Any, field: str, *, limit: int, object_only: bool = False
) -> Any:
    if object_only and value is not None and not isinstance(value, dict):
        raise Invalid.on(field, "Must be a JSON object.")
    try:
        _json_size(field, value, limit)
    except ValueError as exc:
        raise Invalid.on(field, "Must be valid JSON without NaN or Infinity.") from exc
    return value


def text(value: Any, field: str, *, max_length: int) -> str:
    return _text(field, value, max_length=max_length, allow_newlines=True)


def sha256(value: Any, field: str = "sha256") -> str:
    if not isinstance(value, str) or not SHA256_RE.match(value.strip().lower()):
        raise Invalid.on(field, "Must be 64 hexadecimal characters.")
    return value.strip().lower()


VERSION_FIELDS = {
    "description": lambda v: text(v, "description", max_length=10_000),
    "model_card": lambda v: text(v, "model_card", max_length=100_000),
    "metrics": metrics,
    "hyperparameters": hyperparameters,
    "customer_metadata": customer_metadata,
    "tags": tags,
    "lineage": lineage,
    "sample_payload": lambda v: json_document(v, "sample_payload", limit=1024 * 1024),
    "input_schema": lambda v: json_document(
        v, "input_schema", limit=64 * 1024, object_only=True
    ),
    "output_schema": lambda v: json_document(
        v, "output_schema", limit=64 * 1024, object_only=True
    ),
}


def version_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validate the given version metadata fields; unknown names are a 400."""
    unknown = sorted(set(data) - set(VERSION_FIELDS))
    if unknown:
        raise Invalid.on(unknown[0], "Not a field that can be set.")
    checks: dict[str, Any] = VERSION_FIELDS
    return {name: checks[name](value) for name, value in data.items()}
