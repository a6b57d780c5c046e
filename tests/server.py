"""The web server `make run` starts (gunicorn, via ``registry_site.launcher``), run by
tests on a free loopback port against the test database.

Tests that stand for production behaviour (uploads, keep-alive, the CLI) talk to this
server rather than Django's ``live_server``, which accepts requests gunicorn refuses.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

from registry_site.launcher import child_environment, public_url, web_command
from registry_site.prepare import prepare

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class WebServer:
    """gunicorn in a child process (its own session, so it stops with its workers)."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: str):
        self.port = free_port()
        self.url = public_url(HOST, self.port)
        self.env = child_environment(
            HOST,
            self.port,
            {k: v for k, v in env.items() if k != "REGISTRY_PUBLIC_URL"},
        )
        self.log_path, self.cwd = log_path, cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                web_command(HOST, self.port, workers=1, threads=8),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the web server did not start:\n" + self.log_tail())

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


class BreakingProxy:
    """A loopback TCP proxy in front of a server that breaks its first connections the
    way a closed keep-alive connection or a dropped balancer connection does.

    ``plan`` says what happens to each new connection, in order: ``"reset"`` resets it
    as soon as a request arrives (the server never sees it); ``"lose_answer"``
    forwards the request and resets the connection when the answer starts (the server
    did the work, the client never hears of it). Later connections are forwarded.
    """

    def __init__(self, target_port: int, plan: list[str]):
        self.target_port, self.plan = target_port, list(plan)
        self.listener = socket.create_server((HOST, 0))
        self.url = public_url(HOST, self.listener.getsockname()[1])
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            fate = self.plan.pop(0) if self.plan else "forward"
            threading.Thread(
                target=self._serve, args=(client, fate), daemon=True
            ).start()

    def _serve(self, client: socket.socket, fate: str) -> None:
        if fate == "reset":
            client.recv(65536)
            _reset(client)
            return
        upstream = socket.create_connection((HOST, self.target_port))
        sending = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        sending.start()
        if fate == "lose_answer":
            upstream.recv(65536)
            client.shutdown(socket.SHUT_RD)  # wakes the pump; then the reset is sent
            sending.join(timeout=10)
            _reset(client)
        else:
            _pump(upstream, client)
            sending.join(timeout=10)
            client.close()
        upstream.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN, as a peer that dropped the connection."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def status_of(url: str) -> int:
    """The HTTP status a GET of ``url`` answers, 0 when nothing answers."""
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0


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
