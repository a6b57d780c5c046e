"""Our rows in the JSON shapes of MLflow's ``model_registry.proto`` messages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from catalog.models import Alias, ModelGroup, ModelVersion, RegistrationStatus

APPROVAL_TAG = "approval_status"  # shown on every version, never written through MLflow
READY = "READY"
# MLflow's ModelVersionStatus: an import (or the check of a large file) is pending.
STATUS: dict[str, str] = {
    RegistrationStatus.PENDING: "PENDING_REGISTRATION",
    RegistrationStatus.FAILED: "FAILED_REGISTRATION",
}
ARTIFACTS_ROOT = "models"  # the artifact proxy's folder of versions
UPLOADS_ROOT = "uploads"  # the artifact proxy's folder of staged upload batches
PROXY = "/api/2.0/mlflow-artifacts/artifacts/"


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def model_version(version: ModelVersion, artifact_uri: str = "") -> dict[str, Any]:
    """A ``ModelVersion`` message; ``source`` is the producer's text, or where the
    registry serves the files it holds."""
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
        "status": STATUS.get(str(version.registration_status), READY),
        "status_message": _status_message(version),
        "tags": [
            *tags(version.tags),
            {"key": APPROVAL_TAG, "value": version.approval_status},
        ],
        "run_link": "",
        "aliases": sorted(alias.name for alias in version.aliases.all()),
    }


def _status_message(version: ModelVersion) -> str:
    status = version.registration_status
    if status == RegistrationStatus.ABSENT:
        return (
            "Recorded without files: it can be reviewed but not downloaded or deployed."
        )
    if status == RegistrationStatus.PENDING and not version.artifact_key:
        return "Importing the model's files from its source."
    if status == RegistrationStatus.FAILED:
        return version.registration_error or "The model's files failed their check."
    if version.is_folder:
        return f"Files verified; manifest sha256:{version.manifest_sha256}"
    return ""


def unservable(version: ModelVersion) -> str:
    """Why the registry has no verified files to hand out for ``version`` ('' when
    it has)."""
    if version.artifact_absent:
        why = (
            f"was recorded without its files (source {version.source_uri!r} is kept "
            "as text only): the registry has nothing to download."
        )
    elif version.registration_status == RegistrationStatus.PENDING:
        why = "is still being imported or checked; try again shortly."
    elif version.registration_status == RegistrationStatus.FAILED:
        why = f"has no verified files: {version.registration_error}"
    else:
        return ""
    return f"Version {version.version} of {version.group.name!r} {why}"


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


def staged_batch(request: Any, source: str) -> str | None:
    """The upload batch a ``source`` names when it is this registry's own
    ``…/mlflow-artifacts/artifacts/uploads/<batch>`` (at the address the request
    came to, or at ``REGISTRY_PUBLIC_URL``); None for any other source."""
    from django.conf import settings

    for base in (request.build_absolute_uri("/"), settings.REGISTRY_PUBLIC_URL + "/"):
        prefix = base.rstrip("/") + PROXY + UPLOADS_ROOT + "/"
        if source.startswith(prefix):
            return source[len(prefix) :].rstrip("/")
    return None


def artifact_root(request: Any, version: ModelVersion) -> str:
    """The absolute URI of a version's folder in the artifact proxy (absolute: the
    client resolves a relative one against its tracking server)."""
    return request.build_absolute_uri(
        f"{PROXY}{ARTIFACTS_ROOT}/{version.group.name}/{version.version}"
    )
