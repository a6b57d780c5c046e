"""A local Ray cluster for tests and benchmarks: ``ray start --head --block`` from the
``ray[serve]`` package, on loopback, in its own temporary folder and process group,
with Serve's HTTP proxy on a free port. ``stop`` ends that group only."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from tests.server import free_port

BIN = Path(sys.executable).parent


class RayCluster:
    """``ray start --head --block`` in its own session; stopped with its group."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="rt-", dir="/tmp")  # short socket paths
        self.gcs_port, self.dashboard_port = free_port(), free_port()
        self.serve_port = free_port()
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}"
        self.serve = f"http://127.0.0.1:{self.serve_port}"
        self.process: subprocess.Popen | None = None
        self.log = Path(self.folder) / "start.log"

    def start(self) -> None:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BIN / "ray"),
                    "start",
                    "--head",
                    "--block",
                    f"--port={self.gcs_port}",
                    f"--dashboard-port={self.dashboard_port}",
                    "--dashboard-host=127.0.0.1",
                    "--node-ip-address=127.0.0.1",
                    f"--ray-client-server-port={free_port()}",
                    "--include-dashboard=true",
                    "--num-cpus=2",
                    f"--temp-dir={self.folder}",
                    "--disable-usage-stats",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.tail())
            try:
                answer = requests.get(
                    f"{self.dashboard}/api/serve/applications/", timeout=2
                )
                if answer.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("the dashboard did not answer\n" + self.tail())
        # Serve's HTTP proxy on a free loopback port (the REST API would start it
        # on 8000).
        subprocess.run(
            [
                str(BIN / "serve"),
                "start",
                f"--address=127.0.0.1:{self.gcs_port}",
                "--http-host=127.0.0.1",
                f"--http-port={self.serve_port}",
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=90,
        )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)

    def applications(self) -> dict[str, Any]:
        answer = requests.get(f"{self.dashboard}/api/serve/applications/", timeout=10)
        return dict(answer.json()["applications"])
