"""Issue 16 drill: a web worker killed in the middle of an upload leaves no version
row, and the periodic sweep removes the partial file it was writing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from accounts.services import token_issue
from catalog import services
from catalog.models import ModelVersion
from tests.helpers import wait_for
from tests.server import HOST, status_of

pytestmark = pytest.mark.django_db(transaction=True)
BOUNDARY = "drill-boundary"
SIZE = 40 * 1024 * 1024
SENT = 8 * 1024 * 1024


def _start_upload(port: int, key: str) -> socket.socket:
    """Send the headers and the first part of a large artifact, then stop sending."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="artifact"; filename="big.onnx"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    request = (
        "POST /api/v1/model-groups/iris/versions/ HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        f"Authorization: Token {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(head) + SIZE + len(tail)}\r\n\r\n"
    ).encode()
    connection = socket.create_connection((HOST, port))
    connection.sendall(request + head + b"\x00" * SENT)
    return connection


def _new_files(folder: Path, before: set[Path]) -> list[Path]:
    return [path for path in folder.iterdir() if path not in before]


def _web_workers(master: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


def test_a_web_worker_killed_mid_upload_leaves_no_version_and_no_file(
    web_server: Any, worker: Any, contributor: Any, settings: Any
):
    services.group_create(actor=contributor, name="iris")
    _, key = token_issue(user=contributor, name="drill")
    uploads = Path(web_server.env["REGISTRY_DATA_DIR"]) / "uploads"
    before = set(uploads.iterdir())

    connection = _start_upload(web_server.port, key)
    partial = wait_for(
        lambda: [p for p in _new_files(uploads, before) if p.stat().st_size > 1024**2],
        timeout=30,
        message="the upload to reach the temporary file",
    )
    for pid in _web_workers(web_server.process.pid):
        os.kill(pid, signal.SIGKILL)
    connection.close()

    assert ModelVersion.objects.count() == 0
    assert all(path.exists() for path in partial)
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    swept = services.artifact_sweep(grace=timedelta(0))
    assert swept["uploads"] >= len(partial)
    assert not any(path.exists() for path in partial)
    wait_for(
        lambda: status_of(f"{web_server.url}/healthz") == 200,
        timeout=30,
        message="gunicorn to start a new web worker",
    )
