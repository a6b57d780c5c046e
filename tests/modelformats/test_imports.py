"""The package stands alone: no Django, and no app of ours, behind it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = (
    "modelformats",
    "modelformats.isolated",
    "modelformats.sandbox",
    "modelformats.storage",
)


def test_the_package_imports_with_django_not_configured():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        f"import sys; import {', '.join(MODULES)}; "
        "ours = ('django', 'catalog', 'deployments', 'registry_site', 'accounts'); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ours); "
        "assert not loaded, loaded"
    )

    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr.decode()


def test_no_app_reaches_into_another_apps_format_code():
    deployments = "\n".join(
        path.read_text() for path in (ROOT / "deployments").rglob("*.py")
    )

    assert "catalog.formats" not in deployments
    assert "catalog.sandbox" not in deployments
    assert "catalog import formats" not in deployments
