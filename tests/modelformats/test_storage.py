"""A stored artifact as a verified local file, on a real storage backend."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from modelformats.storage import (
    ArtifactMissing,
    ArtifactUnreadable,
    ChecksumMismatch,
    local_copy,
)

CONTENT = b"model bytes" * 100
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemStorage:
    storage = FileSystemStorage(location=tmp_path / "artifacts")
    storage.save("groups/1/a", ContentFile(CONTENT))
    return storage


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


def test_the_copy_holds_the_bytes_and_is_gone_afterwards(storage, temp_dir):
    with local_copy(storage, "groups/1/a", sha256=SHA, temp_dir=str(temp_dir)) as path:
        assert Path(path).read_bytes() == CONTENT

    assert not os.path.exists(path)
    assert list(temp_dir.iterdir()) == []


def test_a_missing_key_says_so(storage, temp_dir):
    with (
        pytest.raises(ArtifactMissing, match="groups/1/b is missing"),
        local_copy(storage, "groups/1/b", sha256=SHA, temp_dir=str(temp_dir)),
    ):
        pass


def test_changed_bytes_are_refused_and_leave_no_copy(storage, temp_dir):
    with (
        pytest.raises(ChecksumMismatch, match="changed after upload"),
        local_copy(storage, "groups/1/a", sha256="0" * 64, temp_dir=str(temp_dir)),
    ):
        pass

    assert list(temp_dir.iterdir()) == []


def test_a_read_that_fails_is_worth_a_retry(storage, temp_dir):
    with (
        pytest.raises(ArtifactUnreadable, match="reading the artifact failed"),
        local_copy(storage, "groups/1", sha256=SHA, temp_dir=str(temp_dir)),
    ):
        pass  # the key names a folder: open() fails with an OSError
