"""The registry as `make run` starts it (web server and both workers, supervised)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_for
from tests.server import Launched, status_of


@pytest.fixture
def launched(worker: Any, tmp_path: Path) -> Any:
    """Shares the test database and the artifact folder (set up by ``worker``)."""
    from django.conf import settings

    env = {k: v for k, v in worker.env.items() if k != "REGISTRY_DATA_DIR"}
    running = Launched(env, tmp_path, str(settings.BASE_DIR))
    try:
        wait_for(
            lambda: status_of(f"{running.url}/healthz") == 200,
            timeout=60,
            message="the launcher's web server",
        )
        wait_for(
            lambda: running.log().count(" ready.") >= 2,
            timeout=60,
            message="the launcher's two workers",
        )
        yield running
    finally:
        running.kill_all()
