"""Every write to the catalog: groups, versions, aliases, and the events they record.

Views, API views, the admin and management commands call these functions; nothing
else writes catalog tables. Each function checks the actor's role, validates its
input, and commits the change together with its Event row.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

import modelformats
from accounts.roles import Actor, Role, require_role
from catalog import feed, model_signatures, outbox, validation
from catalog.models import (
    STAGES_NEEDING_APPROVAL,
    Alias,
    ApprovalStatus,
    Event,
    EventKind,
    Metric,
    ModelGroup,
    ModelVersion,
    RegistrationStatus,
    SignatureStatus,
    Stage,
    TrustedSigningKey,
)
from catalog.uploads import too_large
from common import doorbell, leases
from common.errors import Conflict, Forbidden, Invalid, NotFound
from modelformats.storage import ArtifactMissing, ChecksumMismatch, local_copy

log = logging.getLogger(__name__)

WRITE_ROLES = (Role.CONTRIBUTOR,)
CHECK_ATTEMPTS = 3
# A check rung at registration is left to its doorbell this long before the sweep.
CHECK_SWEEP_GRACE = timedelta(seconds=10)
MAX_PROTECTED_ALIASES = 20


def artifact_storage() -> Any:
    return storages["artifacts"]


def event_record(
    kind: EventKind,
    *,
    actor: Actor | None,
    group: ModelGroup | None = None,
    version: ModelVersion | None = None,
    payload: dict | None = None,
) -> Event:
    """Append one event; call it inside the transaction of the change it describes."""
    event = Event.objects.create(
        kind=kind,
        group=group,
        group_name=group.name if group else "",
        version=version,
        version_number=version.version if version else None,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=getattr(actor, "username", "") or "",
        payload=payload or {},
        txid=feed.txid_expression(),
    )
    outbox.ring(event)
    return event


def _clean_group(group: ModelGroup, *, exclude: list[str] | None = None) -> None:
    try:
        group.full_clean(exclude=exclude)
    except ValidationError as exc:
        if "__all__" in exc.message_dict and "name" not in exc.message_dict:
            raise Conflict(
                exc.message_dict["__all__"][0],
                fields={"name": exc.message_dict["__all__"][0]},
            ) from exc
        if any("already exists" in m for m in exc.message_dict.get("name", [])):
            raise Conflict(
                "A model group with this name already exists.",
                fields={"name": "A model group with this name already exists."},
            ) from exc
        raise


def _save_named(group: ModelGroup, *, field: str, **save_kwargs: Any) -> None:
    """Save ``group``; a unique-name clash (a concurrent create or rename took the
    name) is a 409 naming ``field``, the input that carried the name."""
    try:
        with transaction.atomic():
            group.save(**save_kwargs)
    except IntegrityError as exc:
        message = "A model group with this name already exists."
        raise Conflict(message, fields={field: message}) from exc


@transaction.atomic
def group_create(
    *,
    actor: Actor,
    name: str,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> ModelGroup:
    """Create a model group."""
    actor = require_role(actor, *WRITE_ROLES, action="create model groups")
    if not isinstance(name, str):
        raise Invalid.on("name", "Must be a string.")
    group = ModelGroup(
        name=name,
        description=validation.text(description, "description", max_length=10_000),
        tags=validation.tags(tags or {}),
        created_by=actor,
    )
    _clean_group(group)
    _save_named(group, field="name")
    event_record(
        EventKind.GROUP_CREATED,
        actor=actor,
        group=group,
        payload={"name": group.name, "tags": group.tags},
    )
    return group


@transaction.atomic
def group_update(
    *,
    actor: Actor,
    group: ModelGroup,
    description: str | None = None,
    tags: dict[str, str] | None = None,
) -> ModelGroup:
    """Change a group's description or tags (its name is permanent)."""
    require_role(actor, *WRITE_ROLES, action="edit model groups")
    changed: dict[str, Any] = {}
    if description is not None:
        group.description = validation.text(
            description, "description", max_length=10_000
        )
        changed["description"] = group.description
    if tags is not None:
        group.tags = validation.tags(tags)
        changed["tags"] = group.tags
    if changed:
        group.save(update_fields=[*changed, "updated_at"])
        event_record(EventKind.GROUP_UPDATED, actor=actor, group=group, payload=changed)
    return group


@transaction.atomic
def group_pickle_policy_set(
    *, actor: Actor, group: ModelGroup, allow: bool
) -> ModelGroup:
    """Allow or refuse pickle/joblib artifacts in a group (admins only, audited).

    Pickle files run code when loaded, so this is a security decision: it is recorded
    as a ``group.pickle_policy`` event with who made it.
    """
    require_role(actor, Role.ADMIN, action="change the pickle policy")
    if not isinstance(allow, bool):
        raise Invalid.on("allow_pickle", "Must be true or false.")
    changed = ModelGroup.objects.filter(pk=group.pk).exclude(allow_pickle=allow)
    if changed.update(allow_pickle=allow):
        event_record(
            EventKind.GROUP_PICKLE_POLICY,
            actor=actor,
            group=group,
            payload={"allow_pickle": allow},
        )
    group.allow_pickle = allow
    return group


@transaction.atomic
def group_signature_policy_set(
    *, actor: Actor, group: ModelGroup, require: Any
) -> ModelGroup:
    """Require (or stop requiring) an OpenSSF model-signing signature from a trusted
    key on every upload to ``group`` (admins only, audited)."""
    require_role(actor, Role.ADMIN, action="change the model signature policy")
    if not isinstance(require, bool):
        raise Invalid.on("require_model_signature", "Must be true or false.")
    changed = ModelGroup.objects.filter(pk=group.pk).exclude(
        require_model_signature=require
    )
    if changed.update(require_model_signature=require):
        event_record(
            EventKind.GROUP_SIGNATURE_POLICY,
            actor=actor,
            group=group,
            payload={"require_model_signature": require},
        )
    group.require_model_signature = require
    return group


@transaction.atomic
def trusted_key_add(
    *, actor: Actor, group: ModelGroup, name: Any, public_key_pem: Any
) -> TrustedSigningKey:
    """Trust an elliptic-curve public key's model signatures in ``group`` (admins
    only, audited)."""
    actor = require_role(actor, Role.ADMIN, action="change trusted signing keys")
    name = validation.text(name, "name", max_length=100).strip()
    if not name:
        raise Invalid.on("name", "A name is required.")
    pem, fingerprint = model_signatures.public_key(public_key_pem)
    if group.trusted_keys.filter(name=name).exists():
        raise Conflict(
            "This group already trusts a key with this name.",
            fields={"name": "This group already trusts a key with this name."},
        )
    if group.trusted_keys.filter(fingerprint=fingerprint).exists():
        message = "This group already trusts this key."
        raise Conflict(message, fields={"public_key_pem": message})
    try:
        with transaction.atomic():
            key = TrustedSigningKey.objects.create(
                group=group,
                name=name,
                public_key_pem=pem,
                fingerprint=fingerprint,
                added_by=actor,
            )
    except IntegrityError as exc:
        message = "This group already trusts a key with this name."
        raise Conflict(message, fields={"name": message}) from exc
    event_record(
        EventKind.GROUP_TRUSTED_KEY_ADDED,
        actor=actor,
        group=group,
        payload={"id": key.pk, "name": name, "fingerprint": fingerprint},
    )
    return key


@transaction.atomic
def trusted_key_delete(*, actor: Actor, key: TrustedSigningKey) -> None:
    """Stop trusting a key (admins only, audited); versions it verified keep their
    recorded result."""
    require_role(actor, Role.ADMIN, action="change trusted signing keys")
    payload = {"id": key.pk, "name": key.name, "fingerprint": key.fingerprint}
    key.delete()
    event_record(
        EventKind.GROUP_TRUSTED_KEY_REMOVED,
        actor=actor,
        group=key.group,
        payload=payload,
    )


def _check_signature(
    group: ModelGroup, path: str, model_signature: Any
) -> dict[str, Any]:
    """The signature fields of a new version: ``model_signature`` checked against the
    group's trusted keys; a group that requires signatures refuses anything but a
    verified one (400 naming ``model_signature``)."""
    if model_signature is None:
        if group.require_model_signature:
            raise Invalid.on(
                "model_signature",
                "This group requires a model-signing signature from a trusted key.",
            )
        return {"signature_status": SignatureStatus.ABSENT}
    bundle = model_signatures.read_bundle(model_signature)
    verdict = model_signatures.verify(path, bundle, group.trusted_keys.all())
    if group.require_model_signature and verdict.status != SignatureStatus.VERIFIED:
        label = SignatureStatus(verdict.status).label
        raise Invalid.on(
            "model_signature",
            f"This group requires a signature from a trusted key: {label.lower()}"
            + (f" ({verdict.detail})." if verdict.detail else "."),
        )
    return {
        "signature_status": verdict.status,
        "signature_key": verdict.key.name if verdict.key else "",
        "signature_bundle": bundle,
    }


def _unsigned_allowed(group: ModelGroup) -> None:
    """Faces that bring no model signature (metadata only, imports, attaching a file)
    cannot add to a group that requires one."""
    if group.require_model_signature:
        raise Invalid.on(
            "model_signature",
            "This group requires a model-signing signature from a trusted key: "
            "upload the model file with its signature.",
        )


@transaction.atomic
def group_rename(*, actor: Actor, group: ModelGroup, new_name: str) -> ModelGroup:
    """Give a group a new name; its versions, aliases, deployments and history follow,
    and the old name is free (it no longer finds the group)."""
    actor = require_role(actor, *WRITE_ROLES, action="rename model groups")
    if not isinstance(new_name, str):
        raise Invalid.on("new_name", "Must be a string.")
    locked = ModelGroup.objects.select_for_update().get(pk=group.pk)
    old = locked.name
    if new_name == old:
        return locked
    locked.name = new_name
    try:
        _clean_group(locked, exclude=["created_by"])
    except ValidationError as exc:
        message = "; ".join(exc.message_dict.get("name", exc.messages))
        raise Invalid.on("new_name", message) from exc
    _save_named(locked, field="new_name", update_fields=["name", "updated_at"])
    event_record(
        EventKind.GROUP_RENAMED,
        actor=actor,
        group=locked,
        payload={"from": old, "to": locked.name},
    )
    return locked


@transaction.atomic
def group_protected_aliases_set(
    *, actor: Actor, group: ModelGroup, names: Any
) -> ModelGroup:
    """Set which aliases of a group only an Approved version may carry (admins only)."""
    require_role(actor, Role.ADMIN, action="change protected aliases")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Invalid.on("protected_aliases", "Must be a list of alias names.")
    if len(names) > MAX_PROTECTED_ALIASES:
        message = f"At most {MAX_PROTECTED_ALIASES} aliases."
        raise Invalid.on("protected_aliases", message)
    clean = sorted({_alias_name(n, field="protected_aliases") for n in names})
    locked = ModelGroup.objects.select_for_update().get(pk=group.pk)
    if sorted(locked.protected_aliases) != clean:
        locked.protected_aliases = clean
        locked.save(update_fields=["protected_aliases", "updated_at"])
        event_record(
            EventKind.GROUP_PROTECTED_ALIASES,
            actor=actor,
            group=locked,
            payload={"protected_aliases": clean},
        )
    return locked


@transaction.atomic
def group_delete(*, actor: Actor, group: ModelGroup) -> None:
    """Delete an empty group; a group that still has versions is refused."""
    require_role(actor, *WRITE_ROLES, action="delete model groups")
    locked = ModelGroup.objects.select_for_update().get(pk=group.pk)
    if locked.versions.exists():
        raise Conflict(
            f"Model group {group.name!r} still has versions; delete them first."
        )
    event_record(
        EventKind.GROUP_DELETED,
        actor=actor,
        group=locked,
        payload={"name": locked.name},
    )
    locked.delete()


@contextmanager
def _spooled(artifact: Any) -> Iterator[tuple[str, str, int]]:
    """A local path, SHA-256 and size for the artifact, hashing only if not done yet."""
    path = getattr(artifact, "temporary_file_path", None)
    digest = getattr(artifact, "sha256", None)
    if path is not None and digest is not None:
        yield path(), digest, artifact.size
        return
    sha, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(
        dir=settings.FILE_UPLOAD_TEMP_DIR, delete=False
    ) as tmp:
        artifact.seek(0)
        for chunk in iter(lambda: artifact.read(1024 * 1024), b""):
            size += len(chunk)
            if size > settings.REGISTRY_MAX_ARTIFACT_SIZE:
                os.unlink(tmp.name)
                raise too_large(settings.REGISTRY_MAX_ARTIFACT_SIZE)
            sha.update(chunk)
            tmp.write(chunk)
    try:
        yield tmp.name, sha.hexdigest(), size
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp.name)


def _trust(group: ModelGroup) -> modelformats.Trust:
    return modelformats.Trust(
        pickle=group.allow_pickle, skops_types=settings.REGISTRY_SKOPS_TRUSTED_TYPES
    )


def _check_format(path: str, size: int, *, group: ModelGroup) -> tuple[str, bool]:
    """The artifact's format, and whether the whole file was checked. Files over
    REGISTRY_INLINE_CHECK_MAX are only identified while the client waits (empty,
    unknown and untrusted pickle files are still refused at once); a task checks
    the rest (``version_check``)."""
    trust = _trust(group)
    try:
        if size > settings.REGISTRY_INLINE_CHECK_MAX:
            return modelformats.identify(path, trust=trust).name, False
        return _inspect(path, size, trust), True
    except modelformats.ArtifactRefused as exc:
        raise Invalid.on("artifact", exc.message, detected_format=exc.detected) from exc


def _check_whole(path: str, size: int, *, group: ModelGroup) -> str:
    """The artifact's format, the whole file checked (attaching, importing)."""
    try:
        return _inspect(path, size, _trust(group))
    except modelformats.ArtifactRefused as exc:
        raise Invalid.on("artifact", exc.message, detected_format=exc.detected) from exc


def _inspect(path: str, size: int, trust: modelformats.Trust) -> str:
    if size > settings.REGISTRY_INPROCESS_CHECK_MAX:
        return modelformats.inspect_isolated(path, trust=trust)
    return modelformats.inspect(path, trust=trust)


def _store(
    path: str, group: ModelGroup, *, folder: str = "groups", move: bool = False
) -> str:
    """Store the file at ``path`` under a new server-made key. ``move`` lets local
    storage take the file itself (its owner tolerates it being gone): one rename
    instead of a link now and an unlink when the request ends."""
    key = f"{folder}/{group.pk}/{uuid.uuid4().hex}"
    storage = artifact_storage()
    destination = _local_path(storage, key)
    if destination is not None:
        # Local disk: a rename or a hard link is instant (a link leaves the file
        # to its owner); across file systems, copy then rename so no half file shows.
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        try:
            if move:
                os.replace(path, destination)
            else:
                os.link(path, destination)
        except OSError:
            shutil.copyfile(path, destination + ".part")
            os.replace(destination + ".part", destination)
        return key
    with open(path, "rb") as handle:
        return storage.save(key, File(handle))


def _local_path(storage: Any, key: str) -> str | None:
    """Where ``key`` lives on local disk, or None for remote storage (S3's ``path``
    exists but refuses)."""
    try:
        return str(storage.path(key))
    except (AttributeError, NotImplementedError):
        return None


def _allocate_number(group: ModelGroup) -> int:
    """Take the group's next version number in one statement; the row lock it takes
    lasts until commit (PostgreSQL and SQLite 3.35+ both answer RETURNING)."""
    table = connection.ops.quote_name(ModelGroup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_version = next_version + 1 "  # noqa: S608 - our table name
            "WHERE id = %s RETURNING next_version - 1",
            [group.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise ModelGroup.DoesNotExist(f"group {group.pk} is gone")
    return int(row[0])


def _replace_metrics(version: ModelVersion) -> None:
    Metric.objects.filter(version=version).delete()
    _add_metrics(version)


def _add_metrics(version: ModelVersion) -> None:
    if not version.metrics:
        return
    Metric.objects.bulk_create(
        Metric(version=version, group_id=version.group_id, name=name, value=value)
        for name, value in version.metrics.items()
    )


def version_register(
    *,
    actor: Actor,
    group: ModelGroup,
    artifact: Any,
    sha256: str | None = None,
    model_signature: Any = None,
    **fields: Any,
) -> ModelVersion:
    """Register the next version of ``group`` with its artifact and metadata.

    The artifact is checked and stored before the transaction; the number is taken
    inside it, so a refused upload consumes no number and leaves no file behind.
    ``model_signature`` (an OpenSSF model-signing bundle) is verified against the
    group's trusted keys and its result recorded on the version.
    """
    actor = require_role(actor, *WRITE_ROLES, action="register model versions")
    clean = validation.version_fields(fields)
    expected = validation.sha256(sha256) if sha256 else None
    if artifact is None:
        raise Invalid.on("artifact", "A model file is required.")
    with _spooled(artifact) as (path, digest, size):
        if expected and expected != digest:
            message = f"SHA-256 mismatch: the upload hashes to {digest}."
            raise Invalid.on("sha256", message)
        fmt, checked = _check_format(path, size, group=group)
        signed = _check_signature(group, path, model_signature)
        key = _store(path, group, move=True)
    try:
        version = _insert_version(
            actor,
            group,
            clean,
            (
                {
                    "signature": signed["signature_status"],
                    "signature_key": signed["signature_key"] or None,
                }
                if "signature_bundle" in signed
                else None
            ),
            **signed,
            artifact_key=key,
            artifact_sha256=digest,
            artifact_size=size,
            artifact_format=fmt,
            artifact_filename=os.path.basename(str(getattr(artifact, "name", "")))[
                :255
            ],
            registration_status=(
                RegistrationStatus.READY if checked else RegistrationStatus.PENDING
            ),
        )
    except BaseException:
        stored_delete([key], cleanup=True)
        raise
    if not checked:
        _ring_check(version)
    return version


@transaction.atomic
def _insert_version(
    actor: Any,
    group: ModelGroup,
    clean: dict[str, Any],
    noted: dict[str, Any] | None = None,
    **artifact: Any,
) -> ModelVersion:
    """The version row with the next number, its metrics and its event (``noted``
    adds to the event's payload)."""
    version = ModelVersion(group=group, created_by=actor, **artifact, **clean)
    version.version = _allocate_number(group)
    version.save()
    _add_metrics(version)
    event_record(
        EventKind.VERSION_REGISTERED,
        actor=actor,
        group=group,
        version=version,
        payload={
            "sha256": version.artifact_sha256 or None,
            "size": version.artifact_size,
            "format": version.artifact_format or None,
            "registration_status": version.registration_status,
            "metrics": version.metrics,
            "description": version.description,
            "customer_metadata": version.customer_metadata,
            **(noted or {}),
        },
    )
    return version


def version_register_without_artifact(
    *,
    actor: Actor,
    group: ModelGroup,
    source_uri: Any = "",
    run_id: Any = "",
    **fields: Any,
) -> ModelVersion:
    """Register the next version of ``group`` with metadata only, its artifact marked
    absent: it can be reviewed, aliased and staged like any version, but not
    downloaded or deployed (there is nothing the registry checked to load). For faces
    whose clients keep the model elsewhere and send only an inert reference to it
    (the SageMaker API's ``ModelDataUrl``, MLflow's ``source``): ``source_uri`` is
    kept as text, never opened."""
    return _insert_without_file(
        actor,
        group,
        fields,
        source_uri=source_uri,
        run_id=run_id,
        status=RegistrationStatus.ABSENT,
        noted={"artifact_absent": True},
    )


def _insert_without_file(
    actor: Actor,
    group: ModelGroup,
    fields: dict[str, Any],
    *,
    source_uri: Any,
    run_id: Any,
    status: RegistrationStatus,
    noted: dict[str, Any],
) -> ModelVersion:
    """The next version of ``group`` with no stored file yet (absent, or waiting for
    an import), its producer's ``source`` and ``run_id`` kept as text."""
    actor = require_role(actor, *WRITE_ROLES, action="register model versions")
    _unsigned_allowed(group)
    clean = validation.version_fields(fields)
    source_uri = validation.text(source_uri, "source", max_length=2048)
    run_id = validation.text(run_id, "run_id", max_length=256)
    return _insert_version(
        actor,
        group,
        clean,
        {"source": source_uri, "run_id": run_id, **noted},
        artifact_key="",
        artifact_sha256="",
        artifact_size=0,
        artifact_format="",
        source_uri=source_uri,
        run_id=run_id,
        registration_status=status,
    )


def version_attach_artifact(
    *, actor: Actor, version: ModelVersion, artifact: Any, sha256: str | None = None
) -> ModelVersion:
    """Give a version recorded without a model file its file, checked and stored like
    an upload, while it awaits review: what reviewers approve includes the bytes, so
    a reviewed version never gets them (register a new version instead)."""
    actor = require_role(actor, *WRITE_ROLES, action="attach model files")
    _attachable(version)
    _unsigned_allowed(version.group)
    expected = validation.sha256(sha256) if sha256 else None
    if artifact is None:
        raise Invalid.on("artifact", "A model file is required.")
    with _spooled(artifact) as (path, digest, size):
        if expected and expected != digest:
            message = f"SHA-256 mismatch: the upload hashes to {digest}."
            raise Invalid.on("sha256", message)
        fmt = _check_whole(path, size, group=version.group)
        key = _store(path, version.group)
    try:
        with transaction.atomic():
            locked = ModelVersion.objects.select_for_update(of=("self",)).get(
                pk=version.pk
            )
            _attachable(locked)
            locked.artifact_key, locked.artifact_sha256 = key, digest
            locked.artifact_size, locked.artifact_format = size, fmt
            locked.artifact_filename = os.path.basename(
                str(getattr(artifact, "name", ""))
            )[:255]
            locked.registration_status = RegistrationStatus.READY
            locked.save()
            event_record(
                EventKind.VERSION_UPDATED,
                actor=actor,
                group=version.group,
                version=locked,
                payload={
                    "fields": ["artifact"],
                    "sha256": digest,
                    "size": size,
                    "format": fmt,
                },
            )
    except BaseException:
        stored_delete([key], cleanup=True)
        raise
    return locked


def version_register_from_source(**kwargs: Any) -> ModelVersion:
    """Register a version from an MLflow ``source`` and ``model_id``: imported from
    an allowed source, else recorded without files (``folders``)."""
    from catalog import folders

    return folders.version_register_from_source(**kwargs)


def staged_put(**kwargs: Any) -> dict[str, Any]:
    """Stage one file of an upload batch (``catalog.staging``)."""
    from catalog import staging

    return staging.staged_put(**kwargs)


def staged_list(**kwargs: Any) -> dict[str, int]:
    """The caller's staged files of an upload batch (``catalog.staging``)."""
    from catalog import staging

    return staging.staged_list(**kwargs)


def version_register_staged(**kwargs: Any) -> ModelVersion:
    """Register a version from the caller's staged upload batch (``catalog.staging``)."""
    from catalog import staging

    return staging.version_register_staged(**kwargs)


def _attachable(version: ModelVersion) -> None:
    if not version.artifact_absent:
        raise Conflict(
            f"Version {version.version} already has its model file; register a new "
            "version to change it."
        )
    if version.approval_status != ApprovalStatus.PENDING:
        raise Conflict(
            f"Version {version.version} has been reviewed ({version.approval_status}) "
            "without a model file; register a new version with the file."
        )


# --- Imports from an allowed S3 bucket ------------------------------------------------


def import_source(url: Any) -> tuple[str, str] | None:
    """``(bucket, key)`` if the registry may copy the object at ``url``: an
    ``s3://`` URL in an allowed import bucket, with the artifact storage on S3."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        return None
    bucket, _, key = url.removeprefix("s3://").partition("/")
    allowed = settings.REGISTRY_SAGEMAKER_IMPORT_BUCKETS
    if not key or bucket not in allowed or not settings.S3_BUCKET:
        return None
    return bucket, key


def version_register_for_import(
    *,
    actor: Actor,
    group: ModelGroup,
    source_url: Any,
    metrics_url: Any = None,
    **fields: Any,
) -> ModelVersion:
    """Register the next version of ``group`` whose model file is at ``source_url``.

    When ``import_source`` allows it, the version waits (registration Pending) for
    ``import_artifact_task`` to copy, hash and check the object like an upload;
    otherwise the URL stays inert text and the version is recorded without bytes.
    A model-quality report at ``metrics_url`` in an allowed bucket becomes the
    version's metrics (``import_metrics_task``).
    """
    source = import_source(source_url)
    report = import_source(metrics_url)
    if source is None:
        version = version_register_without_artifact(actor=actor, group=group, **fields)
        if report is not None:
            from catalog.tasks import import_metrics_task

            doorbell.ring_after_commit(import_metrics_task, version.pk, *report)
        return version
    actor = require_role(actor, *WRITE_ROLES, action="register model versions")
    _unsigned_allowed(group)
    clean = validation.version_fields(fields)
    with transaction.atomic():
        version = _insert_version(
            actor,
            group,
            clean,
            {"import_from": f"s3://{source[0]}/{source[1]}"},
            artifact_key="",
            artifact_sha256="",
            artifact_size=0,
            artifact_format="",
            registration_status=RegistrationStatus.PENDING,
        )
        from catalog.tasks import import_artifact_task

        doorbell.ring_after_commit(import_artifact_task, version.pk, *source)
        if report is not None:
            from catalog.tasks import import_metrics_task

            doorbell.ring_after_commit(import_metrics_task, version.pk, *report)
    return version


def _importing(version_id: int) -> ModelVersion | None:
    """The version while its import has stored no file yet (else None: done, failed,
    or not an import)."""
    version = (
        ModelVersion.objects.select_related("group")
        .filter(pk=version_id, registration_status=RegistrationStatus.PENDING)
        .first()
    )
    return None if version is None or version.artifact_key else version


def version_import_artifact(*, version_id: int, bucket: str, key: str) -> str:
    """Copy an importing version's object with the registry's own S3 credentials,
    then check and store it like an upload: Ready, or Failed with the reason (in a
    ``version.updated`` event). A redelivered task finds it done and does nothing."""
    version = _importing(version_id)
    if version is None:
        return "skipped"
    try:
        stored = _import_copy(version, bucket, key)
    except Invalid as exc:
        return _import_failed(version, exc.message)
    except Exception as exc:  # the outside world: any failure ends the import
        log.warning("Import of s3://%s/%s failed: %s", bucket, key, exc)
        return _import_failed(version, f"Could not copy s3://{bucket}/{key}: {exc}")
    key_, digest, size, fmt = stored
    with transaction.atomic():
        done = ModelVersion.objects.filter(
            pk=version.pk, registration_status=RegistrationStatus.PENDING
        ).update(
            artifact_key=key_,
            artifact_sha256=digest,
            artifact_size=size,
            artifact_format=fmt,
            registration_status=RegistrationStatus.READY,
        )
        if done:
            version.artifact_sha256 = digest
            event_record(
                EventKind.VERSION_UPDATED,
                actor=None,
                group=version.group,
                version=version,
                payload={
                    "fields": ["artifact"],
                    "sha256": digest,
                    "size": size,
                    "format": fmt,
                    "imported_from": f"s3://{bucket}/{key}",
                },
            )
    if not done:
        artifact_storage().delete(key_)
    return "imported" if done else "skipped"


def _import_copy(
    version: ModelVersion, bucket: str, key: str
) -> tuple[str, str, int, str]:
    client = artifact_storage().connection.meta.client
    head = client.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] > settings.REGISTRY_MAX_ARTIFACT_SIZE:
        raise too_large(settings.REGISTRY_MAX_ARTIFACT_SIZE)
    with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        client.download_fileobj(bucket, key, tmp)
        tmp.flush()
        sha, size = hashlib.sha256(), 0
        with open(tmp.name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                sha.update(chunk)
                size += len(chunk)
        fmt = _check_whole(tmp.name, size, group=version.group)
        return _store(tmp.name, version.group), sha.hexdigest(), size, fmt


IMPORT_STALE = timedelta(minutes=5)


def import_sweep(*, older_than: timedelta = IMPORT_STALE, limit: int = 100) -> int:
    """Enqueue again the imports that have not finished ``older_than`` after their
    version was registered or last retried (the broker lost the message, or a
    worker died mid-copy); the import itself does nothing twice. Returns how many."""
    cutoff = timezone.now() - older_than
    stuck = list(
        ModelVersion.objects.filter(
            registration_status=RegistrationStatus.PENDING,
            artifact_key="",
            updated_at__lt=cutoff,
        ).order_by("id")[:limit]
    )
    payloads = {
        event.version_id: event.payload
        for event in Event.objects.filter(
            kind=EventKind.VERSION_REGISTERED,
            version_id__in=[v.pk for v in stuck],
        )
    }
    from catalog.tasks import import_artifact_task, import_folder_task

    count = 0
    for version in stuck:
        payload = payloads.get(version.pk) or {}
        source = import_source(payload.get("import_from"))
        plan = payload.get("import_plan")
        if source is None and not isinstance(plan, dict):
            continue
        ModelVersion.objects.filter(pk=version.pk).update(updated_at=timezone.now())
        if source is not None:
            doorbell.ring_after_commit(import_artifact_task, version.pk, *source)
        else:
            doorbell.ring_after_commit(import_folder_task, version.pk, plan)
        count += 1
    return count


REPORT_LIMIT = 1024 * 1024


def report_metrics(report: Any) -> dict[str, float]:
    """The numbers of a SageMaker model-quality report (``{"binary_classification_
    metrics": {"accuracy": {"value": 0.9, ...}, ...}}``, likewise for multiclass and
    regression): each metric with a numeric ``value``."""
    found: dict[str, float] = {}
    if not isinstance(report, dict):
        return found
    for section, metrics in report.items():
        if not (str(section).endswith("_metrics") and isinstance(metrics, dict)):
            continue
        for name, entry in metrics.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[str(name)] = float(value)
    return validation.metrics(found, "ModelMetrics")


def version_import_metrics(*, version_id: int, bucket: str, key: str) -> str:
    """Read a model-quality report with the registry's own S3 credentials and make
    its numbers the version's metrics (filterable, gate-able), while it awaits
    review; a report that cannot be read or parsed changes nothing (logged)."""
    from common import jsonsafe

    try:
        client = artifact_storage().connection.meta.client
        body = client.get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{REPORT_LIMIT}"
        )
        numbers = report_metrics(jsonsafe.loads(body["Body"].read(REPORT_LIMIT + 1)))
    except Exception as exc:  # the outside world, or a report that is not one
        log.warning("Metrics report s3://%s/%s not imported: %s", bucket, key, exc)
        return "failed"
    with transaction.atomic():
        version = (
            ModelVersion.objects.select_for_update(of=("self",))
            .select_related("group")
            .filter(pk=version_id, approval_status=ApprovalStatus.PENDING)
            .first()
        )
        if version is None or not numbers:
            return "skipped"
        version.metrics = {**version.metrics, **numbers}
        version.save(update_fields=["metrics", "updated_at"])
        _replace_metrics(version)
        event_record(
            EventKind.VERSION_UPDATED,
            actor=None,
            group=version.group,
            version=version,
            payload={"fields": ["metrics"], "imported_from": f"s3://{bucket}/{key}"},
        )
    return "imported"


def _import_failed(version: ModelVersion, reason: str) -> str:
    with transaction.atomic():
        if ModelVersion.objects.filter(
            pk=version.pk, registration_status=RegistrationStatus.PENDING
        ).update(
            registration_status=RegistrationStatus.FAILED,
            registration_error=reason[:5000],
        ):
            event_record(
                EventKind.VERSION_UPDATED,
                actor=None,
                group=version.group,
                version=version,
                payload={"fields": ["artifact"], "import_failed": reason[:2000]},
            )
    return "failed"


def _ring_check(version: ModelVersion) -> None:
    from catalog.tasks import check_artifact_task

    doorbell.ring_after_commit(check_artifact_task, version.pk)


def _unchecked(version_id: int) -> Any:
    """The version while its stored artifact waits for its check (an import that has
    no file yet is the import task's)."""
    return ModelVersion.objects.filter(
        pk=version_id, registration_status=RegistrationStatus.PENDING
    ).exclude(artifact_key="")


def version_check(version_id: int) -> str:
    """Check a large artifact that registration only identified (a task): Pending →
    Ready, or Failed with the reason, with its event. The claim takes a short lease,
    renewed while the check runs, so a killed worker's check is taken over."""
    lease = timedelta(seconds=settings.REGISTRY_CHECK_LEASE)
    if not leases.claim(
        _unchecked(version_id),
        lease_field="check_lease_expires_at",
        attempts_field="check_attempts",
        lease=lease,
    ):
        return "skipped"
    version = ModelVersion.objects.select_related("group").get(pk=version_id)
    mine = _unchecked(version_id).filter(check_attempts=version.check_attempts)
    if version.check_attempts > CHECK_ATTEMPTS:
        tries = CHECK_ATTEMPTS
        return _check_end(version, mine, f"The check did not finish in {tries} tries.")
    with leases.renewed(mine, lease_field="check_lease_expires_at", lease=lease):
        try:
            with local_copy(
                artifact_storage(),
                version.artifact_key,
                sha256=version.artifact_sha256,
                temp_dir=settings.FILE_UPLOAD_TEMP_DIR,
            ) as path:
                fmt = _inspect(path, version.artifact_size, _trust(version.group))
        except modelformats.ArtifactRefused as exc:
            return _check_end(version, mine, exc.message)
        except (ArtifactMissing, ChecksumMismatch) as exc:
            return _check_end(version, mine, str(exc))
    return _check_end(version, mine, "", fmt=fmt)


def _check_end(version: ModelVersion, mine: Any, error: str, *, fmt: str = "") -> str:
    ready = not error
    status = RegistrationStatus.READY if ready else RegistrationStatus.FAILED
    changes: dict[str, Any] = {"registration_error": error[:5000]}
    if fmt:
        changes["artifact_format"] = fmt
    with transaction.atomic():
        if not mine.update(
            registration_status=status, check_lease_expires_at=None, **changes
        ):
            return "lost-lease"
        event_record(
            EventKind.VERSION_CHECKED if ready else EventKind.VERSION_CHECK_FAILED,
            actor=None,
            group=version.group,
            version=version,
            payload={"registration_status": status, "error": error[:5000]},
        )
    if not ready:
        log.warning(
            "v%s of %s failed its check: %s", version.version, version.group, error
        )
    return "ready" if ready else "failed"


def checks_sweep() -> int:
    """Ring again for deferred checks that no worker holds (a lost message, a killed
    worker); returns how many."""
    now = timezone.now()
    waiting = (
        ModelVersion.objects.filter(registration_status=RegistrationStatus.PENDING)
        .exclude(artifact_key="")
        .filter(leases.free("check_lease_expires_at", now))
        .filter(created_at__lte=now - CHECK_SWEEP_GRACE)
        .values_list("pk", flat=True)[:500]
    )
    from catalog.tasks import check_artifact_task

    rung = 0
    for version_id in waiting:
        doorbell.ring_after_commit(check_artifact_task, version_id)
        rung += 1
    return rung


@transaction.atomic
def version_stage_set(
    *,
    actor: Actor,
    version: ModelVersion,
    stage: Any,
    archive_existing_versions: bool = False,
) -> ModelVersion:
    """Move a version to an MLflow stage; Staging and Production need it Approved.

    With ``archive_existing_versions``, the group's other versions in that stage move
    to Archived in the same transaction. Each change is one ``version.stage`` event.
    """
    actor = require_role(actor, *WRITE_ROLES, action="change stages")
    valid = {s.value.lower(): s for s in Stage}
    if not isinstance(stage, str) or stage.lower() not in valid:
        message = f"Must be one of {', '.join(Stage.values)}."
        raise Invalid.on("stage", message)
    target = valid[stage.lower()]
    ModelGroup.objects.select_for_update().filter(pk=version.group_id).exists()
    locked = ModelVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)
    if target in STAGES_NEEDING_APPROVAL and not locked.is_approved:
        raise Forbidden(
            f"Stage {target} needs an Approved version; version {locked.version} of "
            f"{version.group.name!r} is {locked.approval_status}."
        )
    if archive_existing_versions and target in STAGES_NEEDING_APPROVAL:
        others = ModelVersion.objects.filter(
            group_id=locked.group_id, stage=target
        ).exclude(pk=locked.pk)
        for other in others.select_for_update(of=("self",)):
            _stage_write(actor, version.group, other, Stage.ARCHIVED)
    _stage_write(actor, version.group, locked, target)
    return locked


def _stage_write(
    actor: Actor, group: ModelGroup, version: ModelVersion, stage: Stage
) -> None:
    if version.stage == stage:
        return
    previous, version.stage = version.stage, stage
    version.save(update_fields=["stage", "updated_at"])
    event_record(
        EventKind.VERSION_STAGE,
        actor=actor,
        group=group,
        version=version,
        payload={"from": previous, "to": stage.value},
    )


# What a reviewer approved: a change to any of these needs a new version.
FROZEN_WHEN_APPROVED = frozenset(
    {
        "metrics",
        "hyperparameters",
        "lineage",
        "input_schema",
        "output_schema",
        "sample_payload",
        "model_card",
    }
)


MUTABLE_AFTER_REVIEW = frozenset({"description", "tags", "customer_metadata"})


@transaction.atomic
def version_update(
    *, actor: Actor, version: ModelVersion, **fields: Any
) -> ModelVersion:
    """Change a version's metadata; what reviewers judge changes only while Pending.

    The status is checked on the row locked for this change, so an approval (which
    takes the same lock) sees either the old metadata or the new, never a mix.
    """
    require_role(actor, *WRITE_ROLES, action="edit model versions")
    clean = validation.version_fields(fields)
    locked = ModelVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)
    changed = {k: v for k, v in clean.items() if getattr(locked, k) != v}
    frozen = sorted(set(changed) & FROZEN_WHEN_APPROVED)
    if frozen and locked.approval_status != ApprovalStatus.PENDING:
        message = (
            f"Frozen once a version has been reviewed ({locked.approval_status}); "
            "register a new version to change it."
        )
        raise Conflict(
            f"{', '.join(frozen)}: {message}",
            fields={name: message for name in frozen},
        )
    if not changed:
        return locked
    for name, value in changed.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*changed, "updated_at"])
    if "metrics" in changed:
        _replace_metrics(locked)
    event_record(
        EventKind.VERSION_UPDATED,
        actor=actor,
        group=version.group,
        version=locked,
        # The fields that may change after review carry their new values, so
        # consumers (webhook payloads) describe the version as of this event.
        payload={
            "fields": sorted(changed),
            **{k: v for k, v in changed.items() if k in MUTABLE_AFTER_REVIEW},
        },
    )
    return locked


@transaction.atomic
def version_extra_update(
    *,
    actor: Actor,
    version: ModelVersion,
    fields: Iterable[str],
    frozen: Iterable[str] = (),
) -> ModelVersion:
    """Allow and record a change to fields an API face keeps for ``version`` beyond
    the catalog's columns (SageMaker's ``InferenceSpecification``, ...), which the
    face then writes in the same transaction: the role ``version_update`` asks, and
    the fields in ``frozen`` (what reviewers judge) change only while Pending."""
    require_role(actor, *WRITE_ROLES, action="edit model versions")
    locked = ModelVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)
    held = sorted(set(frozen))
    if held and locked.approval_status != ApprovalStatus.PENDING:
        message = (
            f"Frozen once a version has been reviewed ({locked.approval_status}); "
            "register a new version to change it."
        )
        raise Conflict(
            f"{', '.join(held)}: {message}", fields={name: message for name in held}
        )
    locked.save(update_fields=["updated_at"])
    event_record(
        EventKind.VERSION_UPDATED,
        actor=actor,
        group=version.group,
        version=locked,
        payload={"fields": sorted(set(fields))},
    )
    return locked


def version_delete(*, actor: Actor, version: ModelVersion) -> None:
    """Delete a version that is not Approved; its number is never given out again."""
    require_role(actor, *WRITE_ROLES, action="delete model versions")
    with transaction.atomic():
        deleted = ModelVersion.objects.filter(pk=version.pk).exclude(
            approval_status=ApprovalStatus.APPROVED
        )
        row = deleted.select_for_update().first()
        if row is None:
            if ModelVersion.objects.filter(pk=version.pk).exists():
                raise Conflict(
                    "An Approved version cannot be deleted; reject it first."
                )
            return
        event_record(
            EventKind.VERSION_DELETED,
            actor=actor,
            group=version.group,
            version=version,
            payload={"sha256": row.artifact_sha256},
        )
        row.delete()
    keys = stored_keys(version)
    if keys:  # a version recorded without an artifact has no file
        transaction.on_commit(lambda: stored_delete(keys))


def version_by_alias(group: ModelGroup, name: str) -> ModelVersion | None:
    if name == "latest":
        return group.versions.order_by("-version").first()
    alias = (
        Alias.objects.filter(group=group, name=name).select_related("version").first()
    )
    return alias.version if alias else None


def _alias_name(name: str, *, field: str = "alias") -> str:
    from catalog.models import name_validator

    if len(name) > 63:
        raise Invalid.on(field, "At most 63 characters.")
    try:
        name_validator(name)
    except ValidationError as exc:
        raise Invalid.on(field, exc.messages[0]) from exc
    if name.lower() in Alias.RESERVED:
        message = f"'{name}' is reserved: it always means the highest version."
        raise Invalid.on(field, message)
    return name


def alias_is_protected(group: ModelGroup, name: str) -> bool:
    return name.lower() in {n.lower() for n in group.protected_aliases}


@transaction.atomic
def alias_set(
    *, actor: Actor, group: ModelGroup, name: str, version_number: Any
) -> Alias:
    """Point alias ``name`` of ``group`` at a version, creating or moving it."""
    actor = require_role(actor, *WRITE_ROLES, action="set aliases")
    name = _alias_name(name)
    if isinstance(version_number, bool) or not isinstance(version_number, int):
        raise Invalid.on("version", "Must be a version number.")
    # Writers of one group's aliases queue on the group row, so two first writers
    # of a new alias do not both insert it: the last one wins cleanly. The version
    # row is locked too, so an approval status read here holds until commit.
    locked = ModelGroup.objects.select_for_update().filter(pk=group.pk).first()
    if locked is None:
        raise Invalid.on("group", f"Model group {group.name!r} does not exist.")
    target = (
        group.versions.select_for_update(of=("self",))
        .filter(version=version_number)
        .first()
    )
    if target is None:
        message = f"Version {version_number} does not exist in {group.name}."
        raise Invalid.on("version", message)
    if alias_is_protected(locked, name) and not target.is_approved:
        raise Forbidden(
            f"Alias {name!r} is protected in {group.name!r}: only an Approved version "
            f"may carry it, and version {target.version} is {target.approval_status}."
        )
    alias = Alias.objects.filter(group=group, name=name).first()
    previous = alias.version.version if alias else None
    if alias is None:
        alias = Alias.objects.create(
            group=group, name=name, version=target, updated_by=actor
        )
    elif alias.version_id != target.pk:
        alias.version, alias.updated_by = target, actor
        alias.save()
    else:
        return alias
    event_record(
        EventKind.ALIAS_SET,
        actor=actor,
        group=group,
        version=target,
        payload={"alias": name, "from": previous, "to": target.version},
    )
    return alias


@transaction.atomic
def alias_delete(*, actor: Actor, group: ModelGroup, name: str) -> None:
    require_role(actor, *WRITE_ROLES, action="delete aliases")
    alias = (
        Alias.objects.filter(group=group, name=name).select_related("version").first()
    )
    if alias is None:
        return
    event_record(
        EventKind.ALIAS_DELETED,
        actor=actor,
        group=group,
        version=alias.version,
        payload={"alias": name, "from": alias.version.version},
    )
    alias.delete()


# --- One tag at a time -------------------------------------------------------------
# Each writer changes one key of the dict on the row it locked, so two writers of
# different keys both keep their change (a whole-dict write would drop one of them).


def _tag_key(key: Any) -> str:
    if not isinstance(key, str):
        raise Invalid.on("key", "Must be a string.")
    validation.tags({key: ""})
    return key


def _tags_with(tags: dict[str, str], key: Any, value: Any) -> dict[str, str]:
    """``tags`` with ``key`` set to ``value``, both checked like every tag."""
    validation.tags({_tag_key(key): value})
    return validation.tags({**tags, key: value})


def _tags_without(tags: dict[str, str], key: Any) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k != _tag_key(key)}


@transaction.atomic
def group_tag_set(
    *, actor: Actor, group: ModelGroup, key: str, value: str
) -> ModelGroup:
    """Set one tag of a group, leaving its other tags as they are."""
    require_role(actor, *WRITE_ROLES, action="edit model groups")
    locked = ModelGroup.objects.select_for_update().get(pk=group.pk)
    return _group_tags_save(actor, locked, _tags_with(locked.tags, key, value))


@transaction.atomic
def group_tag_delete(*, actor: Actor, group: ModelGroup, key: str) -> ModelGroup:
    """Remove one tag of a group; removing a tag it does not have changes nothing."""
    require_role(actor, *WRITE_ROLES, action="edit model groups")
    locked = ModelGroup.objects.select_for_update().get(pk=group.pk)
    return _group_tags_save(actor, locked, _tags_without(locked.tags, key))


def _group_tags_save(
    actor: Actor, group: ModelGroup, tags: dict[str, str]
) -> ModelGroup:
    if tags != group.tags:
        group.tags = tags
        group.save(update_fields=["tags", "updated_at"])
        event_record(
            EventKind.GROUP_UPDATED, actor=actor, group=group, payload={"tags": tags}
        )
    return group


@transaction.atomic
def version_tag_set(
    *, actor: Actor, version: ModelVersion, key: str, value: str
) -> ModelVersion:
    """Set one tag of a version (tags may change after review), leaving the others."""
    require_role(actor, *WRITE_ROLES, action="edit model versions")
    locked = ModelVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)
    return _version_tags_save(actor, locked, _tags_with(locked.tags, key, value))


@transaction.atomic
def version_tag_delete(
    *, actor: Actor, version: ModelVersion, key: str
) -> ModelVersion:
    """Remove one tag of a version; removing a tag it does not have changes nothing."""
    require_role(actor, *WRITE_ROLES, action="edit model versions")
    locked = ModelVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)
    return _version_tags_save(actor, locked, _tags_without(locked.tags, key))


def _version_tags_save(
    actor: Actor, version: ModelVersion, tags: dict[str, str]
) -> ModelVersion:
    if tags != version.tags:
        version.tags = tags
        version.save(update_fields=["tags", "updated_at"])
        event_record(
            EventKind.VERSION_UPDATED,
            actor=actor,
            group=version.group,
            version=version,
            payload={"fields": ["tags"], "tags": tags},
        )
    return version


def stored_keys(version: ModelVersion) -> list[str]:
    """Every storage key of the version's files (a folder's manifest lists several)."""
    keys = [entry["key"] for entry in version.artifact_manifest or []]
    if version.artifact_key and version.artifact_key not in keys:
        keys.append(version.artifact_key)
    return keys


def stored_delete(keys: Iterable[str], *, cleanup: bool = False) -> None:
    """Delete stored files; one already gone is no error. ``cleanup``: removing what
    a failed change stored while its error propagates, so a failure here is logged
    instead of raised (it must not hide that error)."""
    storage = artifact_storage()
    for key in keys:
        try:
            storage.delete(key)
        except FileNotFoundError:
            pass
        except Exception:
            if not cleanup:
                raise
            log.warning("Could not remove stored file %s", key, exc_info=True)


def artifact_open(key: str, what: str) -> Any:
    """The stored file at ``key`` opened for reading, or ``NotFound`` naming ``what``
    when the storage lost it (logged: the registry's own files should not vanish)."""
    try:
        return artifact_storage().open(key, "rb")
    except FileNotFoundError as exc:
        log.error("Stored file %s (%s) is missing from the artifact storage", key, what)
        raise NotFound(
            f"The stored file of {what} is missing from the artifact storage; "
            "an admin can restore it from a backup."
        ) from exc


# --- Leftovers ------------------------------------------------------------------------

SWEEP_GRACE = timedelta(hours=1)


def artifact_sweep(*, grace: timedelta = SWEEP_GRACE) -> dict[str, int]:
    """Remove what a crash left behind, once older than ``grace``: stored artifacts no
    version refers to (a worker killed between storing and committing) and partial
    uploads in the upload folder (a worker killed mid-upload).

    The grace period covers a registration in flight: its file is stored before its
    version row commits.
    """
    cutoff = timezone.now() - grace
    storage = artifact_storage()
    known = set(ModelVersion.objects.values_list("artifact_key", flat=True))
    for manifest in ModelVersion.objects.exclude(manifest_sha256="").values_list(
        "artifact_manifest", flat=True
    ):
        known.update(entry["key"] for entry in manifest)
    orphans = 0
    for key in _stored_keys(storage, "groups"):
        if key in known or storage.get_modified_time(key) > cutoff:
            continue
        with suppress(FileNotFoundError):
            storage.delete(key)
            orphans += 1
    partial = _sweep_folder(settings.FILE_UPLOAD_TEMP_DIR, cutoff.timestamp())
    from catalog import staging

    staged = staging.staging_sweep()
    if orphans or partial or staged:
        log.warning(
            "Swept %d stored artifact(s) without a version, %d partial upload(s) "
            "and %d staged file(s) never registered",
            orphans,
            partial,
            staged,
        )
    return {"artifacts": orphans, "uploads": partial, "staged": staged}


def _stored_keys(storage: Any, folder: str) -> Iterator[str]:
    """Every file key under ``folder`` of the artifact storage."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for name in folders:
        yield from _stored_keys(storage, f"{folder}/{name}")


def _sweep_folder(folder: str | None, before: float) -> int:
    """Delete the files of ``folder`` last changed before ``before`` (a timestamp)."""
    removed = 0
    if not folder or not os.path.isdir(folder):
        return 0
    for entry in os.scandir(folder):
        with suppress(FileNotFoundError):
            if entry.is_file() and entry.stat().st_mtime < before:
                os.remove(entry.path)
                removed += 1
    return removed
