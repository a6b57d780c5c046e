"""Issue 16: what a crash leaves behind (artifacts without a version, partial uploads)
is removed by a periodic sweep once older than a grace period."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest

from catalog import services
from catalog.models import ModelVersion

pytestmark = pytest.mark.django_db

HOUR = 3600


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_old_artifacts_without_a_version_are_swept_and_the_rest_kept(
    make_group, make_version, artifact_root, settings, tmp_path
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    version = make_version(make_group("iris"))
    kept = artifact_root / version.artifact_key
    orphan = artifact_root / "groups" / str(version.group_id) / "left-by-a-crash"
    young = artifact_root / "groups" / "999" / "still-registering"
    for path in (orphan, young):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1024)
    _age(kept, 2 * HOUR)
    _age(orphan, 2 * HOUR)

    swept = services.artifact_sweep(grace=timedelta(hours=1))

    assert swept["artifacts"] == 1
    assert not orphan.exists()
    assert kept.exists() and young.exists()
    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_old_partial_uploads_are_swept(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    stale = tmp_path / "uploads" / "tmpabc.upload.onnx"
    fresh = tmp_path / "uploads" / "tmpdef.upload.onnx"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"in progress")
    _age(stale, 2 * HOUR)

    swept = services.artifact_sweep(grace=timedelta(hours=1))

    assert swept["uploads"] == 1
    assert not stale.exists() and fresh.exists()


def test_a_sweep_with_nothing_to_do_changes_nothing(
    make_group, make_version, settings, tmp_path
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    make_version(make_group("iris"))

    assert services.artifact_sweep() == {"artifacts": 0, "uploads": 0, "staged": 0}
