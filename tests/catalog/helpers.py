"""Small helpers shared by the catalog tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog.models import ApprovalStatus, ModelVersion


def approve(version: ModelVersion) -> None:
    """Mark ``version`` approved straight in the table: the catalog tests need an
    approved version, not the review workflow (tests/approvals covers that)."""
    ModelVersion.objects.filter(pk=version.pk).update(
        approval_status=ApprovalStatus.APPROVED
    )


def files_in(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def fields_of(response: Any) -> dict[str, list[str]]:
    return response.json()["error"]["fields"]
