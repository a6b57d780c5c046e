"""Checking a version's model ahead of its approval, so that the approval does not
wait for it.

A deployment proves, in the sandboxed loader, that the model loads and answers its
warm-up before the endpoint's live version changes. That proof depends only on the
bytes and on the inputs in ``fingerprint``; it costs a child process and the
runtime's import (about 0.2 s for a small ONNX model), the largest part of the time
from an approval to the first prediction. So when a version that an endpoint would
deploy becomes Ready, a task runs the same check on the checks queue and records
it; the deployment then verifies the bytes' digest and the attestation as always,
and reuses the recorded check when every input matches.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.models import ModelVersion
from common import doorbell
from deployments import backends, loader
from deployments.models import Endpoint, LoadCheck, Target

log = logging.getLogger(__name__)
RUNTIMES = ("onnxruntime", "skops", "scikit-learn", "numpy")


@cache
def _runtime_versions() -> list[str]:
    found = []
    for name in RUNTIMES:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    return found


def fingerprint(version: ModelVersion) -> str:
    """Every input of the sandboxed load-and-warm-up check of ``version``."""
    inputs = [
        version.artifact_sha256,
        version.artifact_format,
        version.sample_payload,
        loader.declared_shape(version.input_schema),
        settings.REGISTRY_LOADER_TIMEOUT,
        settings.REGISTRY_LOADER_MEMORY,
        sorted(settings.REGISTRY_SKOPS_TRUSTED_TYPES),
        _runtime_versions(),
    ]
    encoded = json.dumps(inputs, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def checked_load(version: ModelVersion, log_line: Callable[[str], None]) -> None:
    """The deployment's check: the artifact's digest verified now, then the model
    loaded and warmed in the sandbox, unless a check with the same inputs already
    passed ahead of time."""
    mark = fingerprint(version)
    earlier = LoadCheck.objects.filter(version=version, fingerprint=mark).first()
    if earlier is None:
        _record(version, mark, backends.builtin_check(version, log_line))
        return
    with backends.verified_artifact(version):
        log_line(
            f"artifact verified: sha256 {version.artifact_sha256[:12]}…, "
            f"{version.artifact_size} bytes, {version.artifact_format}"
        )
    report = earlier.report
    log_line(
        "model loaded and answered its warm-up in the sandbox when it was checked "
        f"ahead, at {earlier.checked_at:%Y-%m-%d %H:%M:%S} UTC, with the same bytes, "
        f"payload, limits and runtimes ({report['rows']} row(s), input "
        f"{report['input']['name']} {report['input']['dtype']} "
        f"{report['input']['shape']}, outputs {', '.join(report['outputs'])})"
    )


def _record(version: ModelVersion, mark: str, report: dict[str, Any]) -> None:
    try:
        with transaction.atomic():
            LoadCheck.objects.create(version=version, fingerprint=mark, report=report)
    except IntegrityError:
        pass  # checked at the same moment by another run: one row is enough


def wanted(version: ModelVersion) -> bool:
    """Whether an approval of ``version`` would deploy it to the built-in target."""
    return (
        version.has_verified_bytes
        and Endpoint.objects.filter(
            group_id=version.group_id, auto_deploy=True, target=Target.BUILTIN
        ).exists()
    )


def on_version_ready(version: ModelVersion) -> None:
    """Called for a version that is now Ready: check it ahead if it would deploy."""
    if wanted(version):
        from deployments.tasks import precheck_task

        doorbell.ring_after_commit(precheck_task, version.pk)


def version_precheck(version_id: int) -> str:
    """Run the deployment's load check on ``version_id`` now and record it; a model
    that fails is left for its deployment to fail with the reason."""
    version = ModelVersion.objects.select_related("group").filter(pk=version_id).first()
    if version is None or not wanted(version):
        return "skipped"
    mark = fingerprint(version)
    if LoadCheck.objects.filter(version=version, fingerprint=mark).exists():
        return "known"
    try:
        report = backends.builtin_check(version, lambda _: None)
    except (backends.PermanentError, backends.TransientError) as exc:
        log.info("check ahead of v%s failed: %s", version.version, exc)
        return "failed"
    _record(version, mark, report)
    return "checked"
