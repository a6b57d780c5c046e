"""Issue 11: settings only read; ``registry_site.prepare`` makes the data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from registry_site.prepare import KEY_FILE, prepare

ROOT = Path(__file__).resolve().parent.parent


def _load_settings(data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.SECRET_KEY"],
        env={
            **{k: v for k, v in os.environ.items() if "SECRET" not in k},
            "DJANGO_SETTINGS_MODULE": "registry_site.settings",
            "REGISTRY_DATA_DIR": str(data_dir),
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_loading_the_settings_creates_nothing(tmp_path):
    data_dir = tmp_path / "data"

    loaded = _load_settings(data_dir, DJANGO_SECRET_KEY="k" * 50)

    assert loaded.returncode == 0, loaded.stderr
    assert not data_dir.exists()


def test_without_a_key_the_settings_say_how_to_make_one(tmp_path):
    loaded = _load_settings(tmp_path / "data")

    assert loaded.returncode != 0
    assert "registry_site.prepare" in loaded.stderr


def test_prepare_makes_the_folders_and_one_private_key_that_settings_read(tmp_path):
    data_dir = prepare(tmp_path / "data")
    key = (data_dir / KEY_FILE).read_text()
    prepare(data_dir)

    assert (data_dir / KEY_FILE).read_text() == key
    assert (data_dir / KEY_FILE).stat().st_mode & 0o077 == 0
    assert {p.name for p in data_dir.iterdir()} >= {"uploads", "broker", "staticfiles"}
    assert _load_settings(data_dir).returncode == 0


def test_prepare_generates_one_private_signing_key_for_attestations(tmp_path):
    from common.attestation import ED25519, load_signing_key
    from registry_site.prepare import SIGNING_KEY_FILE

    data_dir = prepare(tmp_path / "data")
    pem = (data_dir / SIGNING_KEY_FILE).read_text()
    prepare(data_dir)

    assert (data_dir / SIGNING_KEY_FILE).read_text() == pem
    assert (data_dir / SIGNING_KEY_FILE).stat().st_mode & 0o077 == 0
    assert load_signing_key(pem).algorithm == ED25519
