"""Small helpers shared by the catalog tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import ApprovalStatus, ModelVersion


def approve(version: ModelVersion) -> None:
    """Stand-in for the approvals app, which does not exist yet."""
    ModelVersion.objects.filter(pk=version.pk).update(
        approval_status=ApprovalStatus.APPROVED
    )


def files_in(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def query_count(action: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


def fields_of(response: Any) -> dict[str, list[str]]:
    return response.json()["error"]["fields"]
