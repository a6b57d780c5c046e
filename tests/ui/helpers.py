"""Helpers shared by the web UI tests: a small real catalog, inserted in bulk where
pages only display it, and finished deployments as the worker leaves them."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Metric, ModelGroup, ModelVersion
from deployments.models import (
    Deployment,
    DeploymentLogLine,
    DeploymentStatus,
    Endpoint,
)
from tests import models as real_models
from tests.helpers import SAMPLE

ROLES = ("viewer", "contributor", "reviewer", "deployer", "admin")
_numbers = itertools.count(1)


def register(actor: Any, group: ModelGroup, **fields: Any) -> ModelVersion:
    """Register a real ONNX iris model through the catalog service."""
    fields.setdefault("sample_payload", {"inputs": SAMPLE})
    fields.setdefault("metrics", {"accuracy": 0.9, "f1": 0.88})
    return catalog_services.version_register(
        actor=actor,
        group=group,
        artifact=ContentFile(real_models.iris_onnx(), name="iris.onnx"),
        **fields,
    )


def served(endpoint: Endpoint, version: ModelVersion, **fields: Any) -> Deployment:
    """A finished deployment row, as the worker leaves it, and the endpoint pointer."""
    now = timezone.now()
    log = fields.pop(
        "log", [f"{now.isoformat()} endpoint now serves v{version.version}"]
    )
    deployment = Deployment.objects.create(
        endpoint=endpoint,
        version=version,
        reason=fields.pop("reason", "approval"),
        status=fields.pop("status", DeploymentStatus.SUCCEEDED),
        started_at=now,
        finished_at=now,
        **fields,
    )
    DeploymentLogLine.objects.bulk_create(
        DeploymentLogLine(deployment=deployment, text=text) for text in log
    )
    if deployment.status == DeploymentStatus.SUCCEEDED:
        Endpoint.objects.filter(pk=endpoint.pk).update(
            live_version=version, live_since=now
        )
        endpoint.refresh_from_db()
    return deployment


def add_versions(
    group: ModelGroup, count: int, *, by: Any, metrics: dict | None = None
) -> list[ModelVersion]:
    """``count`` more versions of ``group`` inserted in bulk (pages only display them)."""
    start = group.versions.count() + 1
    sha = hashlib.sha256(b"bulk").hexdigest()
    rows = ModelVersion.objects.bulk_create(
        ModelVersion(
            group=group,
            version=number,
            description=f"bulk v{number}",
            registration_status="Ready",
            artifact_key=f"bulk/{group.pk}/{number}",
            artifact_sha256=sha,
            artifact_size=1000,
            artifact_format="onnx",
            metrics=metrics or {"accuracy": 0.5 + number / 1000, "f1": 0.7},
            tags={"stage": "dev"},
            created_by=by,
        )
        for number in range(start, start + count)
    )
    # Metric rows carry their group where the model has that column (a copy of
    # the version's group that makes per-group metric filters one index range).
    grouped = "group" in {f.name for f in Metric._meta.get_fields()}
    Metric.objects.bulk_create(
        Metric(
            version=v, name=name, value=value, **({"group": group} if grouped else {})
        )
        for v in rows
        for name, value in v.metrics.items()
    )
    ModelGroup.objects.filter(pk=group.pk).update(next_version=start + count)
    return rows


def add_groups(count: int, *, by: Any, versions: int = 1) -> list[ModelGroup]:
    groups = ModelGroup.objects.bulk_create(
        ModelGroup(
            name=f"bulk-{next(_numbers)}",
            description="bulk group",
            tags={"team": "bulk"},
            created_by=by,
        )
        for _ in range(count)
    )
    for group in groups:
        add_versions(group, versions, by=by)
    return groups
