"""A stored artifact as a local file whose SHA-256 is checked on the way.

Takes the storage object (anything with ``open(key, "rb")``), so it works the same
on local disk and S3-compatible storage without knowing which.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ArtifactMissing(LookupError):
    """The storage holds no file under the key."""


class ArtifactUnreadable(OSError):
    """Reading the file failed; a retry may help."""


class ChecksumMismatch(ValueError):
    """The stored bytes are not the ones recorded at upload."""


@contextmanager
def local_copy(storage: Any, key: str, *, sha256: str, temp_dir: str) -> Iterator[str]:
    """A temporary copy of ``key`` in ``temp_dir`` whose SHA-256 is ``sha256``."""
    digest = hashlib.sha256()
    try:
        source = storage.open(key, "rb")
    except FileNotFoundError as exc:
        raise ArtifactMissing(f"the artifact {key} is missing from storage") from exc
    except OSError as exc:
        raise ArtifactUnreadable(f"reading the artifact failed: {exc}") from exc
    with source, tempfile.NamedTemporaryFile(dir=temp_dir, delete=False) as copy:
        try:
            for chunk in iter(lambda: source.read(1024 * 1024), b""):
                digest.update(chunk)
                copy.write(chunk)
        except OSError as exc:
            os.unlink(copy.name)
            raise ArtifactUnreadable(f"reading the artifact failed: {exc}") from exc
    try:
        if digest.hexdigest() != sha256:
            raise ChecksumMismatch(
                f"artifact checksum mismatch: storage holds {digest.hexdigest()}, "
                f"registered {sha256}; the file changed after upload"
            )
        yield copy.name
    finally:
        os.unlink(copy.name)
