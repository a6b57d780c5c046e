"""Make the data folder the settings point at: its folders, the generated secret key
and the attestation signing key.

The settings only read; this writes. ``make`` runs it before anything that starts
Django, the launcher runs it before it starts the web server and the worker, and
anyone else runs ``python -m registry_site.prepare`` (it honours
``REGISTRY_DATA_DIR``). It imports no Django, so it runs before settings can load.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FOLDERS = (
    "",
    "uploads",
    "staticfiles",
    "artifacts",
    "broker/queue",
    "broker/processed",
    "broker/control",
)
KEY_FILE = "secret_key"
SIGNING_KEY_FILE = "signing_key.pem"


def data_dir() -> Path:
    """The data folder: ``REGISTRY_DATA_DIR``, or ``data/`` beside the project."""
    return Path(os.environ.get("REGISTRY_DATA_DIR") or BASE_DIR / "data").resolve()


def prepare(folder: Path | str | None = None) -> Path:
    """Create the data folder's sub-folders and, once, its secret key and its
    signing key (Ed25519, for attestations); idempotent."""
    root = Path(folder).resolve() if folder is not None else data_dir()
    for sub in FOLDERS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    _write_once(root / KEY_FILE, lambda: secrets.token_urlsafe(64).encode())
    _write_once(root / SIGNING_KEY_FILE, _signing_key_pem)
    return root


def _signing_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_once(path: Path, make: Callable[[], bytes]) -> None:
    """Write a new key under a temporary name, then link it into place: two processes
    preparing at once agree on one key, and none ever reads a half-written file."""
    if path.exists():
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(make())
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):  # another process won: its key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


if __name__ == "__main__":
    print(prepare(sys.argv[1] if len(sys.argv) > 1 else None))
