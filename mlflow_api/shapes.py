"""Our rows in the JSON shapes of MLflow's ``model_registry.proto`` messages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from catalog.models import Alias, ModelGroup, ModelVersion

APPROVAL_TAG = "approval_status"  # shown on every version, never written through MLflow
READY = "READY"
ARTIFACTS_ROOT = "models"  # the artifact proxy's folder of versions


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def model_version(version: ModelVersion, artifact_uri: str = "") -> dict[str, Any]:
    """A ``ModelVersion`` message; ``source`` is the producer's text, or where the
    registry serves the files it holds."""
    absent = version.artifact_absent
    return {
        "name": version.group.name,
        "version": str(version.version),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(version.updated_at),
        "user_id": version.created_by.username,
        "current_stage": version.stage,
        "description": version.description,
        "source": version.source_uri or artifact_uri,
        "run_id": version.run_id,
        "status": READY,
        "status_message": (
            "Recorded without files: it can be reviewed but not downloaded or deployed."
            if absent
            else ""
        ),
        "tags": [
            *tags(version.tags),
            {"key": APPROVAL_TAG, "value": version.approval_status},
        ],
        "run_link": "",
        "aliases": sorted(alias.name for alias in version.aliases.all()),
    }


def registered_model(
    group: ModelGroup,
    latest: Iterable[ModelVersion],
    aliases: Iterable[Alias],
    artifact_uri: Any,
) -> dict[str, Any]:
    """A ``RegisteredModel`` message (``artifact_uri(version)`` builds each source)."""
    return {
        "name": group.name,
        "creation_timestamp": millis(group.created_at),
        "last_updated_timestamp": millis(group.updated_at),
        "user_id": group.created_by.username,
        "description": group.description,
        "latest_versions": [model_version(v, artifact_uri(v)) for v in latest],
        "tags": tags(group.tags),
        "aliases": [
            {"alias": alias.name, "version": str(alias.version.version)}
            for alias in aliases
        ],
    }


def artifact_root(request: Any, version: ModelVersion) -> str:
    """The absolute URI of a version's folder in the artifact proxy (absolute: the
    client resolves a relative one against its tracking server)."""
    return request.build_absolute_uri(
        f"/api/2.0/mlflow-artifacts/artifacts/{ARTIFACTS_ROOT}/"
        f"{version.group.name}/{version.version}"
    )
