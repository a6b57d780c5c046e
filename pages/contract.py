"""The model's contract on the version page: its schemas, its sample payload rounded
for reading, and snippets that invoke it (curl and the ``modelreg`` CLI)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from catalog.models import ModelVersion

ROWS_SHOWN = 5
DIGITS = 4
INLINE_BODY = 2000  # longer sample bodies go in a file in the snippets


def rounded(value: Any, digits: int = DIGITS) -> Any:
    """Floats to ``digits`` significant digits, all the way down (for display)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, list):
        return [rounded(item, digits) for item in value]
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    return value


def _body(sample: Any) -> dict[str, Any] | None:
    if sample is None:
        return None
    if isinstance(sample, dict) and ({"inputs", "instances"} & set(sample)):
        return sample
    return {"inputs": sample}


def _shown(body: dict[str, Any] | None) -> tuple[str, int]:
    """The sample, rounded, at most ROWS_SHOWN rows; and how many rows it has."""
    if body is None:
        return "", 0
    rows = body.get("inputs", body.get("instances"))
    count = len(rows) if isinstance(rows, list) else 1
    short = dict(body)
    if isinstance(rows, list) and count > ROWS_SHOWN:
        key = "inputs" if "inputs" in body else "instances"
        short[key] = rows[:ROWS_SHOWN]
    return json.dumps(rounded(short), indent=1), count


def contract(
    version: ModelVersion, *, endpoint: str | None, base_url: str
) -> dict[str, Any]:
    """What the version page's Contract section shows."""
    body = _body(version.sample_payload)
    sample, rows = _shown(body)
    name = endpoint or "ENDPOINT"
    text = json.dumps(body if body is not None else {"inputs": [[0.0]]})
    inline = len(text) <= INLINE_BODY
    data = shlex.quote(text) if inline else "@input.json"
    url = f"{base_url.rstrip('/')}/api/v1/endpoints/{name}/invocations"
    curl = (
        f'curl -H "Authorization: Token $MODELREG_TOKEN" \\\n'
        f"     -H 'Content-Type: application/json' \\\n"
        f"     -d {data} \\\n"
        f"     {url}"
    )
    modelreg = (
        f"export MODELREG_URL={shlex.quote(base_url.rstrip('/'))}\n"
        + (f"echo {shlex.quote(text)} > input.json\n" if inline else "")
        + f"modelreg endpoints invoke {name} --input input.json"
    )
    return {
        "input_schema": version.input_schema,
        "output_schema": version.output_schema,
        "sample": sample,
        "sample_rows": rows,
        "sample_cut": rows > ROWS_SHOWN,
        "endpoint": endpoint,
        "curl": curl,
        "modelreg": modelreg,
        "inline": inline,
    }


# --- Lineage: where a version came from ------------------------------------------

DATASET_KEYS = ("dataset_uri", "dataset", "training_data", "data")
RUN_KEYS = ("pipeline_run", "run_id", "run", "pipeline")


def lineage_facts(lineage: Any) -> dict[str, Any]:
    """The dataset, code commit (and repository) and pipeline run a version names."""
    if not isinstance(lineage, dict):
        return {}

    def first(keys: tuple[str, ...]) -> Any:
        return next(
            (lineage[k] for k in keys if lineage.get(k) not in (None, "")), None
        )

    return {
        "dataset": first(DATASET_KEYS),
        "commit": lineage.get("commit"),
        "repository": lineage.get("code_repository"),
        "run": first(RUN_KEYS),
    }
