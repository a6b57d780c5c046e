"""Reading an evaluation set: a CSV (or Parquet, where pyarrow is installed) of named
numeric feature columns and a label column, validated with errors naming the field."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from catalog.metrics import REGRESSION
from common.errors import Invalid


@dataclass
class Table:
    file_format: str
    columns: list[str]  # the feature columns, in file order
    rows: list[list[float]]
    labels: list[Any]


def read_table(path: str, *, label_column: str, task: str) -> Table:
    """Parse and validate an evaluation set; errors name the field to blame."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        header, records = _parquet(path)
        file_format = "parquet"
    else:
        header, records = _csv(path)
        file_format = "csv"
    if not header:
        raise Invalid.on("file", "The evaluation set is empty.")
    if len(set(header)) != len(header):
        raise Invalid.on("file", "Column names must be unique.")
    if label_column not in header:
        raise Invalid.on(
            "label_column",
            f"No column {label_column!r} in the file (its columns: {', '.join(header)}).",
        )
    if not records:
        raise Invalid.on("file", "The evaluation set has no rows.")
    limit = settings.REGISTRY_EVALUATION_MAX_ROWS
    if len(records) > limit:
        raise Invalid.on("file", f"More than {limit} rows.")
    at = header.index(label_column)
    features = [c for c in header if c != label_column]
    if not features:
        raise Invalid.on("file", "The evaluation set has no feature columns.")
    rows = [
        [_number(r[i], header[i], n) for i in range(len(header)) if i != at]
        for n, r in enumerate(records, start=1)
    ]
    labels = [r[at] for r in records]
    if any(label in ("", None) for label in labels):
        raise Invalid.on("label_column", f"{label_column!r} has empty values.")
    if task == REGRESSION:
        try:
            labels = [float(v) for v in labels]
        except (TypeError, ValueError) as exc:
            raise Invalid.on(
                "label_column",
                f"{label_column!r} must hold numbers for a regression set.",
            ) from exc
    return Table(file_format, features, rows, labels)


def _csv(path: str) -> tuple[list[str], list[list[Any]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [c.strip() for c in next(reader, [])]
            records = [row for row in reader if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise Invalid.on("file", f"Not a readable CSV file: {exc}") from exc
    for number, row in enumerate(records, start=1):
        if len(row) != len(header):
            raise Invalid.on(
                "file",
                f"Row {number} has {len(row)} values; the header names {len(header)}.",
            )
    return header, records


def _parquet(path: str) -> tuple[list[str], list[list[Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise Invalid.on(
            "file", "Parquet files need pyarrow on the server; upload a CSV file."
        ) from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise Invalid.on("file", f"Not a readable Parquet file: {exc}") from exc
    columns = table.to_pydict()
    header = [str(name) for name in columns]
    records = [list(values) for values in zip(*columns.values(), strict=True)]
    return header, records


def _number(value: Any, column: str, row: int) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise Invalid.on(
            "file",
            f"Feature column {column!r} must be numeric: row {row} holds {str(value)[:40]!r}.",
        )
    return number
