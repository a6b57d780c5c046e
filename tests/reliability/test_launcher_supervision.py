"""Issue 16: the launcher `make run` uses supervises instead of cascading. A worker
killed with SIGKILL is started again while the web server keeps answering, /readyz
reports the new worker's heartbeat, and Ctrl-C stops everything within 10 s."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from registry_site.prepare import prepare
from tests.helpers import wait_for
from tests.server import HOST, free_port

pytestmark = pytest.mark.django_db(transaction=True)


class Launched:
    """``python -m registry_site.launcher`` as `make run` starts it, on the test
    database and its own queues."""

    def __init__(self, env: dict[str, str], folder: Path, cwd: str):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.prefix = f"launcher-{uuid.uuid4().hex[:8]}"
        self.log_path = folder / "launcher.log"
        self.env = {
            **env,
            "CELERY_QUEUE": self.prefix,
            "REGISTRY_DATA_DIR": str(prepare(folder / "data")),
            "REGISTRY_PUBLIC_URL": self.url,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "registry_site.launcher"),
                    *("--host", HOST, "--port", str(self.port), "--workers", "1"),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self, lane: str) -> list[int]:
        """Process ids of the workers (main process and pool) consuming ``lane``."""
        found = subprocess.run(
            ["pgrep", "-f", "--", f"--queues {self.prefix}.{lane}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(pid) for pid in found.stdout.split()]

    def anything_left(self) -> list[int]:
        """Workers on its queues and web servers on its port still running."""
        pattern = f"{self.prefix}|--bind {HOST}:{self.port}"
        found = subprocess.run(
            ["pgrep", "-f", "--", pattern], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def kill_all(self) -> None:
        for pid in [self.process.pid, *self.anything_left()]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)


def _answers(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0


@pytest.fixture
def launched(celery_worker_process: Any, tmp_path: Path) -> Any:
    from django.conf import settings

    env = {
        k: v for k, v in celery_worker_process.env.items() if k != "REGISTRY_DATA_DIR"
    }
    running = Launched(env, tmp_path, str(settings.BASE_DIR))
    try:
        wait_for(
            lambda: _answers(f"{running.url}/healthz") == 200,
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


def test_a_killed_worker_is_restarted_while_the_web_keeps_serving(launched):
    main_pid = min(launched.workers("deployments"))
    killed_at = time.time()

    os.killpg(os.getpgid(main_pid), signal.SIGKILL)
    answers = []
    for _ in range(10):
        answers.append(_answers(f"{launched.url}/healthz"))
        time.sleep(0.2)

    assert answers == [200] * 10
    wait_for(
        lambda: "worker exited with code -9" in launched.log(),
        timeout=10,
        message="the launcher to notice the worker's death",
    )
    wait_for(
        lambda: (
            launched.workers("deployments")
            and min(launched.workers("deployments")) != main_pid
        ),
        timeout=30,
        message="a new worker",
    )
    ready = wait_for(
        lambda: _ready_since(launched.url, killed_at),
        timeout=60,
        message="a heartbeat from the new worker in /readyz",
    )
    assert ready["status"] == "ok"
    assert launched.process.poll() is None


def _ready_since(url: str, moment: float) -> dict[str, Any] | None:
    from datetime import datetime

    body = requests.get(f"{url}/readyz", timeout=5).json()
    beat = body.get("worker_heartbeat")
    if beat and datetime.fromisoformat(beat).timestamp() > moment:
        return body
    return None


def test_ctrl_c_stops_the_web_server_and_both_workers_within_ten_seconds(launched):
    started = time.monotonic()

    launched.process.send_signal(signal.SIGINT)
    launched.process.wait(timeout=15)

    assert time.monotonic() - started < 10
    assert launched.process.returncode == 0
    assert launched.anything_left() == []
    assert _answers(f"{launched.url}/healthz") == 0
