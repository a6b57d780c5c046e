"""Registry-computed evaluation: a group's evaluation sets, and its versions measured
on them by the registry rather than by the pipeline that trained them.

An evaluation set is an uploaded table (CSV, or Parquet where pyarrow is installed)
of numeric feature columns and a label column, validated on upload, stored under a
server-made key with its SHA-256, numbered 1..N per group and never changed.

An evaluation is a row first, then a task (DESIGN invariant 3): queued when a version
becomes Ready (an outbox subscriber) or on demand, claimed by a worker with a lease,
run in the same limited child process that deployments load models in, and ended
Succeeded (metrics computed here, from the predictions) or Failed with a readable
reason; the sweep re-enqueues rows no worker holds.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

import modelformats
from accounts.roles import Actor, require_role
from catalog import services
from catalog.metrics import compute_metrics, metric_names
from catalog.models import (
    EVALUATION_ACTIVE,
    ApprovalStatus,
    Evaluation,
    EvaluationSet,
    EvaluationStatus,
    EvaluationTask,
    Event,
    EventKind,
    ModelGroup,
    ModelVersion,
    RegistrationStatus,
)
from catalog.tables import Table, read_table
from common import doorbell, leases
from common.errors import Conflict, Invalid
from modelformats.storage import ArtifactMissing, ChecksumMismatch, local_copy

log = logging.getLogger(__name__)

ATTEMPTS = 3
SWEEP_GRACE = timedelta(seconds=10)


# --- Evaluation sets -------------------------------------------------------------------


def _allocate_number(group: ModelGroup) -> int:
    """The group's next evaluation set number, taken in one statement (as versions)."""
    table = connection.ops.quote_name(ModelGroup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_evaluation_set = next_evaluation_set + 1 "  # noqa: S608 - our table name
            "WHERE id = %s RETURNING next_evaluation_set - 1",
            [group.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise ModelGroup.DoesNotExist(f"group {group.pk} is gone")
    return int(row[0])


def evaluation_set_create(
    *,
    actor: Actor,
    group: ModelGroup,
    file: Any,
    label_column: str,
    task: str,
    metrics: Any = None,
    description: str = "",
) -> EvaluationSet:
    """Validate, store and number a new evaluation set of ``group``."""
    actor = require_role(actor, *services.WRITE_ROLES, action="add evaluation sets")
    if task not in EvaluationTask.values:
        raise Invalid.on("task", "Must be 'classification' or 'regression'.")
    names = metric_names(task, metrics)
    if file is None:
        raise Invalid.on("file", "An evaluation set file is required.")
    if not label_column:
        raise Invalid.on("label_column", "Name the label column.")
    with services._spooled(file) as (path, digest, size):
        if size > settings.REGISTRY_EVALUATION_MAX_SIZE:
            limit = settings.REGISTRY_EVALUATION_MAX_SIZE
            raise Invalid.on("file", f"Larger than the limit of {limit} bytes.")
        table = read_table(path, label_column=label_column, task=task)
        key = services._store(path, group, folder="evaluation-sets")
    try:
        return _insert_set(
            actor,
            group,
            table,
            names,
            key,
            digest,
            size,
            file,
            **{
                "label_column": label_column,
                "task": task,
                "description": description,
            },
        )
    except BaseException:
        services.artifact_storage().delete(key)
        raise


@transaction.atomic
def _insert_set(
    actor: Any,
    group: ModelGroup,
    table: Table,
    names: list[str],
    key: str,
    digest: str,
    size: int,
    file: Any,
    **fields: Any,
) -> EvaluationSet:
    evaluation_set = EvaluationSet.objects.create(
        group=group,
        version=_allocate_number(group),
        feature_columns=table.columns,
        metrics=names,
        rows=len(table.rows),
        file_format=table.file_format,
        key=key,
        sha256=digest,
        size=size,
        filename=str(getattr(file, "name", "") or "").rsplit("/", 1)[-1][:255],
        created_by=actor,
        **fields,
    )
    for version in _to_measure_on_upload(group):
        _queue(version, evaluation_set)
    services.event_record(
        EventKind.EVALUATION_SET_CREATED,
        actor=actor,
        group=group,
        payload={
            "evaluation_set": evaluation_set.version,
            "sha256": digest,
            "task": evaluation_set.task,
            "metrics": names,
            "rows": evaluation_set.rows,
        },
    )
    return evaluation_set


# --- Evaluations -----------------------------------------------------------------------

# A new set measures the group's newest versions that are waiting for review or
# approved (what gates and the live comparison need), not its whole history.
MEASURE_ON_UPLOAD = 20


def _to_measure_on_upload(group: ModelGroup) -> list[ModelVersion]:
    return list(
        ModelVersion.objects.filter(
            group=group,
            registration_status=RegistrationStatus.READY,
            approval_status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED],
        )
        .select_related("group")
        .order_by("-version")[:MEASURE_ON_UPLOAD]
    )


def _ring(evaluation_id: int) -> None:
    from catalog.tasks import evaluate_version_task

    doorbell.ring_after_commit(evaluate_version_task, evaluation_id)


def _queue(version: ModelVersion, evaluation_set: EvaluationSet) -> Evaluation:
    """The version's evaluation on the set, queued (again) unless it is under way."""
    evaluation, created = Evaluation.objects.get_or_create(
        version=version, evaluation_set=evaluation_set
    )
    if not created and evaluation.status not in EVALUATION_ACTIVE:
        Evaluation.objects.filter(pk=evaluation.pk).update(
            status=EvaluationStatus.QUEUED,
            error="",
            attempts=0,
            lease_expires_at=None,
            requested_at=timezone.now(),
            finished_at=None,
        )
        evaluation.refresh_from_db()
        created = True
    if created:
        _ring(evaluation.pk)
    return evaluation


def latest_set(group: ModelGroup) -> EvaluationSet | None:
    return EvaluationSet.objects.filter(group=group).order_by("-version").first()


@transaction.atomic
def version_evaluate(
    *, actor: Actor, version: ModelVersion, evaluation_set: int | None = None
) -> Evaluation:
    """Measure ``version`` on the group's evaluation set number ``evaluation_set``
    (default: the latest) in the background; returns the queued evaluation."""
    require_role(actor, *services.WRITE_ROLES, action="evaluate model versions")
    if version.registration_status != RegistrationStatus.READY:
        raise Conflict(
            f"Version {version.version} has no checked model file to run "
            f"(registration status {version.registration_status})."
        )
    sets = EvaluationSet.objects.filter(group_id=version.group_id)
    chosen = (
        sets.filter(version=evaluation_set).first()
        if evaluation_set is not None
        else sets.order_by("-version").first()
    )
    if chosen is None:
        if evaluation_set is not None:
            raise Invalid.on(
                "evaluation_set", f"The group has no evaluation set {evaluation_set}."
            )
        raise Conflict(f"{version.group.name!r} has no evaluation set yet.")
    return _queue(version, chosen)


EVALUATE_ON = frozenset({EventKind.VERSION_REGISTERED, EventKind.VERSION_CHECKED})


def on_event(event: Event) -> None:
    """Outbox subscriber: a version that is Ready is measured on its group's latest
    evaluation set."""
    if event.version_id is None:
        return
    version = (
        ModelVersion.objects.filter(
            pk=event.version_id, registration_status=RegistrationStatus.READY
        )
        .select_related("group")
        .first()
    )
    if version is None:
        return
    chosen = latest_set(version.group)
    if chosen is not None:
        _queue(version, chosen)


def _mine(evaluation_id: int) -> Any:
    return Evaluation.objects.filter(pk=evaluation_id, status__in=EVALUATION_ACTIVE)


def evaluation_run(evaluation_id: int) -> str:
    """Run one queued evaluation (the task's body): claim it with a lease, predict
    the set in a limited child process, compute the metrics here, record them."""
    lease = timedelta(seconds=settings.REGISTRY_EVALUATION_LEASE)
    if not leases.claim(
        _mine(evaluation_id),
        lease_field="lease_expires_at",
        lease=lease,
        status=EvaluationStatus.RUNNING,
    ):
        return "skipped"
    evaluation = Evaluation.objects.select_related(
        "version__group", "evaluation_set"
    ).get(pk=evaluation_id)
    mine = Evaluation.objects.filter(
        pk=evaluation_id,
        status=EvaluationStatus.RUNNING,
        attempts=evaluation.attempts,
    )
    if evaluation.attempts > ATTEMPTS:
        return _end(evaluation, mine, error=f"Did not finish in {ATTEMPTS} tries.")
    with leases.renewed(mine, lease_field="lease_expires_at", lease=lease):
        try:
            values, missing = _measure(evaluation.version, evaluation.evaluation_set)
        except modelformats.LoadError as exc:
            return _end(evaluation, mine, error=str(exc))
        except (ArtifactMissing, ChecksumMismatch) as exc:
            return _end(evaluation, mine, error=str(exc))
        except Invalid as exc:
            return _end(evaluation, mine, error=f"evaluation set: {exc.message}")
    return _end(evaluation, mine, metrics=values, error="; ".join(missing))


def _measure(
    version: ModelVersion, evaluation_set: EvaluationSet
) -> tuple[dict[str, float], list[str]]:
    storage = services.artifact_storage()
    temp = settings.FILE_UPLOAD_TEMP_DIR
    with local_copy(
        storage, evaluation_set.key, sha256=evaluation_set.sha256, temp_dir=temp
    ) as table_path:
        table = read_table(
            table_path,
            label_column=evaluation_set.label_column,
            task=evaluation_set.task,
        )
    with local_copy(
        storage, version.artifact_key, sha256=version.artifact_sha256, temp_dir=temp
    ) as model_path:
        answer = modelformats.predict_isolated(
            model_path,
            version.artifact_format,
            trust=modelformats.Trust(skops_types=settings.REGISTRY_SKOPS_TRUSTED_TYPES),
            columns=table.columns,
            rows=table.rows,
            timeout=settings.REGISTRY_EVALUATION_TIMEOUT,
            memory=settings.REGISTRY_EVALUATION_MEMORY,
        )
    if len(answer["predictions"]) != len(table.rows):
        raise modelformats.LoadError(
            f"the model answered {len(answer['predictions'])} predictions "
            f"for {len(table.rows)} rows"
        )
    return compute_metrics(evaluation_set.metrics, table.labels, answer)


def _end(
    evaluation: Evaluation,
    mine: Any,
    *,
    error: str = "",
    metrics: dict[str, float] | None = None,
) -> str:
    ok = metrics is not None
    status = EvaluationStatus.SUCCEEDED if ok else EvaluationStatus.FAILED
    evaluation_set = evaluation.evaluation_set
    with transaction.atomic():
        if not mine.update(
            status=status,
            metrics=metrics or {},
            error=error[:5000],
            lease_expires_at=None,
            finished_at=timezone.now(),
        ):
            return "lost-lease"
        version = ModelVersion.objects.select_for_update().get(pk=evaluation.version_id)
        if ok:
            _record_computed(version, evaluation_set, metrics or {})
        services.event_record(
            EventKind.VERSION_EVALUATED if ok else EventKind.VERSION_EVALUATION_FAILED,
            actor=None,
            group=evaluation.version.group,
            version=version,
            payload={
                "evaluation_set": evaluation_set.version,
                "sha256": evaluation_set.sha256,
                "metrics": metrics or {},
                "error": error[:5000],
            },
        )
    if not ok:
        log.warning("evaluation %s failed: %s", evaluation.pk, error)
    return "succeeded" if ok else "failed"


def _record_computed(
    version: ModelVersion, evaluation_set: EvaluationSet, values: dict[str, float]
) -> None:
    """Merge into the version's computed metrics: a value from a newer set wins."""
    computed = dict(version.computed_metrics or {})
    for name, value in values.items():
        held = computed.get(name)
        if held is None or held.get("evaluation_set", 0) <= evaluation_set.version:
            computed[name] = {
                "value": value,
                "evaluation_set": evaluation_set.version,
                "sha256": evaluation_set.sha256,
            }
    ModelVersion.objects.filter(pk=version.pk).update(computed_metrics=computed)


def evaluations_sweep() -> int:
    """Ring again for evaluations that no worker holds (a lost message, a killed
    worker); returns how many."""
    now = timezone.now()
    waiting = (
        Evaluation.objects.filter(status__in=EVALUATION_ACTIVE)
        .filter(leases.free("lease_expires_at", now))
        .filter(requested_at__lte=now - SWEEP_GRACE)
        .values_list("pk", flat=True)[:500]
    )
    rung = 0
    for evaluation_id in waiting:
        _ring(evaluation_id)
        rung += 1
    return rung


# --- Reading ---------------------------------------------------------------------------


def mismatches(version: ModelVersion) -> list[dict[str, Any]]:
    """Reported metrics that differ from their computed twin by more than the
    tolerance (``REGISTRY_METRIC_TOLERANCE``, absolute)."""
    tolerance = settings.REGISTRY_METRIC_TOLERANCE
    found = []
    for name, computed in sorted((version.computed_metrics or {}).items()):
        reported = (version.metrics or {}).get(name)
        if not isinstance(reported, int | float) or isinstance(reported, bool):
            continue
        difference = reported - computed["value"]
        if not math.isfinite(difference) or abs(difference) > tolerance:
            found.append(
                {
                    "metric": name,
                    "reported": reported,
                    "computed": computed["value"],
                    "difference": difference,
                    "evaluation_set": computed["evaluation_set"],
                }
            )
    return found
