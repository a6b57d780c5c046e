"""Uploads staged file by file before they become a version (MLflow's artifact proxy
``PUT``: a client logs a model folder with one request per file, then creates the
version from it).

A *batch* is a folder of one user's staged files, under
``staging/<user id>/<batch>/<path>`` in the artifact storage: nobody else can add to
it, list it or register from it. Registering checks and stores the files like any
folder upload (``folders.version_register_folder``) and then removes the batch; a
batch never registered is removed by the leftover sweep after ``STAGING_GRACE``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from contextlib import suppress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction

from accounts.roles import Actor, require_role
from catalog import folders, services
from catalog.models import ModelGroup, ModelVersion
from catalog.uploads import too_large
from common.errors import Invalid, NotFound
from modelformats import ArtifactRefused, mlmodel

STAGING = "staging"
STAGING_GRACE = timedelta(hours=24)
BATCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
CHUNK = 1024 * 1024


def _batch(actor: Any, batch: Any) -> str:
    if not isinstance(batch, str) or not BATCH_RE.match(batch):
        raise Invalid.on(
            "batch",
            "An upload batch is named by 1 to 128 letters, digits, '.', '_' or '-'.",
        )
    return f"{STAGING}/{actor.pk}/{batch}"


def _path(path: Any) -> str:
    try:
        return mlmodel.clean_path(path)
    except ArtifactRefused as exc:
        raise Invalid.on("path", exc.message) from exc


def staged_list(*, actor: Actor, batch: str) -> dict[str, int]:
    """The caller's staged files of ``batch``: ``{path: size}``."""
    actor = require_role(actor, *services.WRITE_ROLES, action="upload model files")
    prefix = _batch(actor, batch)
    storage = services.artifact_storage()
    return {
        key[len(prefix) + 1 :]: storage.size(key)
        for key in services._stored_keys(storage, prefix)
    }


def staged_put(*, actor: Actor, batch: str, path: str, stream: Any) -> dict[str, Any]:
    """Stage one file (read from ``stream`` up to its end) at ``path`` of the caller's
    ``batch``, replacing a file staged there before. The batch stays within the limits
    of a folder version: ``mlmodel.MAX_FILES`` files, ``REGISTRY_MAX_ARTIFACT_SIZE``
    bytes in all."""
    actor = require_role(actor, *services.WRITE_ROLES, action="upload model files")
    prefix, path = _batch(actor, batch), _path(path)
    present = staged_list(actor=actor, batch=batch)
    if path not in present and len(present) >= mlmodel.MAX_FILES:
        raise Invalid.on(
            "path", f"A model folder holds at most {mlmodel.MAX_FILES} files."
        )
    room = settings.REGISTRY_MAX_ARTIFACT_SIZE - (
        sum(present.values()) - present.get(path, 0)
    )
    sha, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            size += len(chunk)
            if size > room:
                raise too_large(settings.REGISTRY_MAX_ARTIFACT_SIZE)
            sha.update(chunk)
            tmp.write(chunk)
        tmp.flush()
        _put(f"{prefix}/{path}", tmp.name)
    return {"path": path, "size": size, "sha256": sha.hexdigest()}


def _put(key: str, local: str) -> None:
    """Store the file at ``local`` under ``key``, replacing what was there whole."""
    storage = services.artifact_storage()
    destination = services._local_path(storage, key)
    if destination is not None:
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(local, destination + ".part")
        os.replace(destination + ".part", destination)
        return
    with suppress(FileNotFoundError):
        storage.delete(key)
    with open(local, "rb") as handle:
        storage.save(key, File(handle))


def version_register_staged(
    *,
    actor: Actor,
    group: ModelGroup,
    batch: str,
    source_uri: str = "",
    run_id: str = "",
    **fields: Any,
) -> ModelVersion:
    """Register the next version of ``group`` from the caller's staged ``batch``,
    checked and stored like a folder upload; the batch is removed once committed."""
    actor = require_role(actor, *services.WRITE_ROLES, action="register model versions")
    prefix = _batch(actor, batch)
    storage = services.artifact_storage()
    keys = list(services._stored_keys(storage, prefix))
    if not keys:
        raise NotFound(f"No files are staged in upload batch {batch!r}.")
    handles = {key[len(prefix) + 1 :]: storage.open(key, "rb") for key in keys}
    try:
        version = folders.version_register_folder(
            actor=actor,
            group=group,
            files=handles,
            source_uri=source_uri,
            run_id=run_id,
            **fields,
        )
    finally:
        for handle in handles.values():
            handle.close()
    transaction.on_commit(lambda: services.stored_delete(keys))
    return version


def staging_sweep(*, grace: timedelta = STAGING_GRACE) -> int:
    """Remove staged files older than ``grace`` (batches never registered)."""
    from django.utils import timezone

    cutoff = timezone.now() - grace
    storage = services.artifact_storage()
    removed = 0
    for key in services._stored_keys(storage, STAGING):
        with suppress(FileNotFoundError):
            if storage.get_modified_time(key) < cutoff:
                storage.delete(key)
                removed += 1
    return removed
