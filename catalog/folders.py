"""Versions whose artifact is a folder of files (an MLflow model: ``MLmodel``, the
model file, environment files).

Each file is stored under its own server-made key and listed in the version's
manifest (path, size, SHA-256); one digest over the manifest stands for the whole.
The ``artifact_*`` fields describe the model file ``MLmodel`` names, so everything
that loads a version (deployments, evaluations, the deferred check) loads and
re-verifies that file exactly as it does a single upload.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.roles import Actor, require_role
from catalog import imports, services, validation
from catalog.models import EventKind, ModelGroup, ModelVersion, RegistrationStatus
from catalog.uploads import too_large
from common import doorbell
from common.errors import Invalid
from modelformats import ArtifactRefused, mlmodel

FIELD = "files"
log = logging.getLogger(__name__)


def version_register_folder(
    *,
    actor: Actor,
    group: ModelGroup,
    files: dict[str, Any],
    source_uri: Any = "",
    run_id: Any = "",
    **fields: Any,
) -> ModelVersion:
    """Register the next version of ``group`` with a folder of files, checked (the
    model file ``MLmodel`` names, by its flavour and its bytes) and stored before
    the transaction, so a refused folder consumes no number and leaves no file."""
    actor = require_role(actor, *services.WRITE_ROLES, action="register model versions")
    services._unsigned_allowed(group)
    clean = validation.version_fields(fields)
    source_uri = validation.text(source_uri, "source", max_length=2048)
    run_id = validation.text(run_id, "run_id", max_length=256)
    stored: list[str] = []
    try:
        artifact = _store_folder(files, group, stored)
        return services._insert_version(
            actor,
            group,
            clean,
            {"manifest_sha256": artifact["manifest_sha256"], "files": len(files)},
            **artifact,
            source_uri=source_uri,
            run_id=run_id,
            registration_status=RegistrationStatus.READY,
        )
    except BaseException:
        services.stored_delete(stored, cleanup=True)
        raise


def version_register_from_source(
    *,
    actor: Actor,
    group: ModelGroup,
    source_uri: Any = "",
    run_id: Any = "",
    model_id: Any = None,
    **fields: Any,
) -> ModelVersion:
    """Register the next version of ``group`` from an MLflow ``source`` (and MLflow
    3's ``model_id``). When an allowed source holds the folder (``imports.plan``),
    the version waits (registration Pending) for ``import_folder_task`` to fetch,
    check and store it; otherwise the source stays inert text and the version is
    recorded without files."""
    plan = imports.plan(source_uri, model_id)
    if plan is None:
        return services.version_register_without_artifact(
            actor=actor, group=group, source_uri=source_uri, run_id=run_id, **fields
        )
    with transaction.atomic():
        version = services._insert_without_file(
            actor,
            group,
            fields,
            source_uri=source_uri,
            run_id=run_id,
            status=RegistrationStatus.PENDING,
            noted={"import_plan": plan},
        )
        from catalog.tasks import import_folder_task

        doorbell.ring_after_commit(import_folder_task, version.pk, plan)
    return version


def version_import_folder(*, version_id: int, plan: dict[str, Any]) -> str:
    """Fetch an importing version's folder from its allowed source, then check and
    store it like an uploaded folder: Ready with its manifest, or Failed with the
    reason. A redelivered task finds it done and does nothing."""
    version = services._importing(version_id)
    if version is None:
        return "skipped"
    stored: list[str] = []
    try:
        with imports.fetched(plan) as files:
            artifact = _store_folder(files, version.group, stored)
        done = _import_done(version, artifact, plan)
    except imports.ImportFailed as exc:
        done, reason = False, exc.message
    except Invalid as exc:
        done, reason = False, exc.message
    except Exception as exc:  # the outside world: any failure ends the import
        log.warning("Import of %s failed: %s", imports.describe(plan), exc)
        done, reason = False, f"Could not import {imports.describe(plan)}: {exc}"
    else:
        reason = ""
    if done:
        return "imported"
    services.stored_delete(stored, cleanup=True)
    if reason:
        return services._import_failed(version, reason)
    return "skipped"


def _import_done(
    version: ModelVersion, artifact: dict[str, Any], plan: dict[str, Any]
) -> bool:
    with transaction.atomic():
        done = ModelVersion.objects.filter(
            pk=version.pk, registration_status=RegistrationStatus.PENDING
        ).update(**artifact, registration_status=RegistrationStatus.READY)
        if done:
            version.artifact_sha256 = artifact["artifact_sha256"]
            services.event_record(
                EventKind.VERSION_UPDATED,
                actor=None,
                group=version.group,
                version=version,
                payload={
                    "fields": ["artifact"],
                    "sha256": artifact["artifact_sha256"],
                    "size": artifact["artifact_size"],
                    "format": artifact["artifact_format"],
                    "manifest_sha256": artifact["manifest_sha256"],
                    "files": len(artifact["artifact_manifest"]),
                    "imported_from": imports.describe(plan),
                },
            )
    return bool(done)


def _store_folder(
    files: dict[str, Any], group: ModelGroup, stored: list[str]
) -> dict[str, Any]:
    """Spool, hash, check and store the files; the version's artifact fields."""
    if not files:
        raise Invalid.on(FIELD, "A model folder needs at least its MLmodel file.")
    if len(files) > mlmodel.MAX_FILES:
        raise Invalid.on(
            FIELD, f"A model folder holds at most {mlmodel.MAX_FILES} files."
        )
    with ExitStack() as stack:
        spooled = {}
        total = 0
        for path, upload in files.items():
            clean = _path(path)
            spooled[clean] = stack.enter_context(services._spooled(upload))
            total += spooled[clean][2]
            if total > settings.REGISTRY_MAX_ARTIFACT_SIZE:
                raise too_large(settings.REGISTRY_MAX_ARTIFACT_SIZE)
        model_path, fmt = _model_file(spooled, group)
        manifest = []
        for path, (local, digest, size) in sorted(spooled.items()):
            stored.append(services._store(local, group))
            manifest.append(
                {"path": path, "size": size, "sha256": digest, "key": stored[-1]}
            )
    model = next(entry for entry in manifest if entry["path"] == model_path)
    return {
        "artifact_key": model["key"],
        "artifact_sha256": model["sha256"],
        "artifact_size": model["size"],
        "artifact_format": fmt,
        "artifact_filename": model_path[:255],
        "artifact_manifest": manifest,
        "manifest_sha256": mlmodel.manifest_digest(manifest),
    }


def _path(path: Any) -> str:
    try:
        return mlmodel.clean_path(path)
    except ArtifactRefused as exc:
        raise Invalid.on(FIELD, exc.message) from exc


def _model_file(
    spooled: dict[str, tuple[str, str, int]], group: ModelGroup
) -> tuple[str, str]:
    """The model file's path and its format, checked by flavour and by bytes."""
    if mlmodel.MLMODEL not in spooled:
        raise Invalid.on(FIELD, "A model folder needs an MLmodel file at its top.")
    local, _, size = spooled[mlmodel.MLMODEL]
    if size > mlmodel.MAX_MLMODEL:
        raise Invalid.on(FIELD, "MLmodel is larger than 1 MiB.")
    with open(local, "rb") as handle:
        text = handle.read()
    try:
        path, declared = mlmodel.model_file(
            mlmodel.read(text), trust=services._trust(group)
        )
    except ArtifactRefused as exc:
        raise Invalid.on(FIELD, exc.message, detected_format=exc.detected) from exc
    if path not in spooled:
        raise Invalid.on(FIELD, f"MLmodel names {path!r}, which is not in the folder.")
    local, _, size = spooled[path]
    fmt = services._check_whole(local, size, group=group)
    if declared != "pickle" and fmt != declared:
        raise Invalid.on(
            FIELD, f"MLmodel declares {path!r} as {declared}, but its bytes are {fmt}."
        )
    return path, fmt


def public_manifest(version: ModelVersion) -> list[dict[str, Any]]:
    """The manifest as shown to clients: paths, sizes and digests, not storage keys."""
    return [
        {"path": e["path"], "size": e["size"], "sha256": e["sha256"]}
        for e in version.artifact_manifest
    ]
