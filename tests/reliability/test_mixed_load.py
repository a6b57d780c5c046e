"""Issue 16 drill: the registry exactly as `make run` starts it (its own data folder,
SQLite, the embedded file-system broker, the supervised web server and workers, the
demo data) under a steady mixed load: registrations, approvals, invocations, and
webhooks to a receiver that refuses every connection.

Afterwards: no process exited (the launcher restarted nothing), no worker logged an
unrecoverable error, every request was answered without a 5xx, every deployment
ended terminal, and every event was handled exactly once (the webhooks consumer takes every kind).

It runs 10 minutes in CI, 1 minute elsewhere; REGISTRY_DRILL_SECONDS sets it (3600
for the hour-long variant). It does not use the test database, so it runs in the
SQLite pass only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection

from registry_site.prepare import prepare
from tests import models as real_models
from tests.helpers import SAMPLE, wait_for
from tests.server import HOST, free_port, status_of

SECONDS = float(
    os.environ.get(
        "REGISTRY_DRILL_SECONDS", "600" if os.environ.get("CI") == "true" else "60"
    )
)
GROUP = "iris-classifier"
ENDPOINT = "iris-classifier-prod"


class Registry:
    """`make run`: prepare, migrate, seed the demo, then the launcher."""

    def __init__(self, folder: Path, cwd: str):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        data = prepare(folder / "data")
        self.database = data / "registry.sqlite3"
        keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
        self.env = {k: v for k, v in os.environ.items() if k in keep} | {
            "REGISTRY_DATA_DIR": str(data),
            "DATABASE_URL": f"sqlite:///{self.database}",
            "REGISTRY_OUTBOUND_ALLOW": "127.0.0.0/8",
            "REGISTRY_WEBHOOK_BACKOFF": "1",
            "REGISTRY_WEBHOOK_TIMEOUT": "2",
        }
        self.cwd, self.log_path = cwd, folder / "launcher.log"
        for command in (["migrate", "--noinput"], ["seed_demo"]):
            self.manage(*command)
        self.keys = {
            role: self.manage("create_token", role).strip().splitlines()[-1]
            for role in ("contributor", "reviewer", "deployer", "viewer")
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "registry_site.launcher"),
                    *("--host", HOST, "--port", str(self.port)),
                ],
                env=self.env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Token {self.keys[role]}"}
        return requests.request(
            method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            return db.execute(sql).fetchall()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


class Load:
    """Threads that keep calling the registry until told to stop; every answer counted."""

    def __init__(self, registry: Registry):
        self.registry, self.stop = registry, threading.Event()
        self.answers: Counter[str] = Counter()
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def record(self, what: str, response: Any) -> Any:
        with self.lock:
            self.answers[f"{what} {response.status_code}"] += 1
            if response.status_code >= 500:
                self.errors.append(
                    f"{what}: {response.status_code} {response.text[:200]}"
                )
        return response

    def every(self, seconds: float, action: Any) -> threading.Thread:
        def loop() -> None:
            while not self.stop.is_set():
                try:
                    action()
                except requests.RequestException as exc:
                    with self.lock:
                        self.errors.append(f"{action.__name__}: {exc}")
                self.stop.wait(seconds)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread

    def register(self) -> None:
        self.record(
            "register",
            self.registry.call(
                "contributor",
                "POST",
                f"/api/v1/model-groups/{GROUP}/versions/",
                files={"artifact": ("iris.onnx", real_models.iris_onnx())},
                data={"sample_payload": json.dumps({"inputs": SAMPLE})},
            ),
        )

    def approve(self) -> None:
        pending = self.registry.call(
            "reviewer",
            "GET",
            f"/api/v1/model-groups/{GROUP}/versions/",
            params={"approval_status": "PendingManualApproval", "ordering": "version"},
        )
        self.record("list", pending)
        for version in pending.json().get("results", [])[:1]:
            self.record(
                "review",
                self.registry.call(
                    "reviewer",
                    "POST",
                    f"/api/v1/model-groups/{GROUP}/versions/{version['version']}/reviews/",
                    json={"decision": "approve"},
                ),
            )

    def invoke(self) -> None:
        answer = self.registry.call(
            "viewer",
            "POST",
            f"/api/v1/endpoints/{ENDPOINT}/invocations",
            json={"inputs": SAMPLE},
        )
        self.record("invoke", answer)


def _refusing_port() -> int:
    """A loopback port where nothing listens: every webhook delivery fails at once."""
    return free_port()


@pytest.fixture
def registry(tmp_path: Path) -> Any:
    if connection.vendor != "sqlite":
        pytest.skip("runs its own `make run` registry; once, in the SQLite pass")
    from django.conf import settings

    running = Registry(tmp_path, str(settings.BASE_DIR))
    try:
        wait_for(
            lambda: status_of(f"{running.url}/healthz") == 200,
            timeout=90,
            message="the registry to answer",
        )
        wait_for(
            lambda: running.log().count(" ready.") >= 2,
            timeout=90,
            message="both workers",
        )
        wait_for(
            lambda: all(_serves(running) for _ in range(20)),
            timeout=120,
            message="the demo endpoint to serve in every web worker",
        )
        yield running
    finally:
        running.stop()


def _serves(registry: Registry) -> bool:
    answer = registry.call(
        "viewer",
        "POST",
        f"/api/v1/endpoints/{ENDPOINT}/invocations",
        json={"inputs": SAMPLE},
    )
    return bool(answer.status_code == 200)


def test_make_run_stays_up_and_loses_nothing_under_a_mixed_load(registry):
    hook = registry.call(
        "deployer",
        "POST",
        "/api/v1/webhooks/",
        json={
            "url": f"http://127.0.0.1:{_refusing_port()}/hook",
            "events": ["*"],
            "secret": "drill-secret-0123456789",
        },
    )
    assert hook.status_code == 201, hook.text
    load = Load(registry)
    threads = [
        load.every(1.0, load.register),
        load.every(1.5, load.approve),
        load.every(0.05, load.invoke),
        load.every(0.05, load.invoke),
    ]
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        assert registry.process.poll() is None, registry.log()[-3000:]
        time.sleep(1)
    load.stop.set()
    for thread in threads:
        thread.join(timeout=90)

    print(f"{SECONDS:.0f} s of mixed load:", dict(sorted(load.answers.items())))
    log = registry.log()
    assert "Unrecoverable error" not in log
    assert "exited with code" not in log, log[-3000:]
    assert load.errors == [], load.errors[:10]
    assert load.answers["review 201"] >= SECONDS / 3, load.answers
    assert load.answers["invoke 200"] > 0, load.answers
    wait_for(
        lambda: (
            not registry.query(
                "SELECT id FROM deployments_deployment "
                "WHERE status IN ('Queued', 'Running')"
            )
        ),
        timeout=120,
        message="every deployment to end",
    )
    wait_for(
        lambda: _every_event_handled_once(registry),
        timeout=120,
        message="every event to be handled by each consumer",
    )


def _every_event_handled_once(registry: Registry) -> bool:
    """The webhooks consumer wants every kind: one handled row per event, no more."""
    events = registry.query("SELECT count(*) FROM catalog_event")[0][0]
    total, distinct = registry.query(
        "SELECT count(*), count(DISTINCT event_id) FROM catalog_handledevent "
        "WHERE consumer = 'webhooks'"
    )[0]
    assert total == distinct
    return bool(events) and total == events
