"""Issue 16: the launcher `make run` uses supervises instead of cascading. A worker
killed with SIGKILL is started again while the web server keeps answering, /readyz
reports the new worker's heartbeat, and Ctrl-C stops everything within 10 s."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
import requests

from tests.helpers import wait_for
from tests.server import status_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_killed_worker_is_restarted_while_the_web_keeps_serving(launched):
    main_pid = min(launched.workers("deployments"))
    killed_at = time.time()

    os.killpg(os.getpgid(main_pid), signal.SIGKILL)
    answers = []
    for _ in range(10):
        answers.append(status_of(f"{launched.url}/healthz"))
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
    assert status_of(f"{launched.url}/healthz") == 0
