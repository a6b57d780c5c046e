"""Helpers shared by the tests (fixtures live in ``conftest.py``; these are imported)."""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import models as real_models

# Two iris rows, the input every served test model is asked about.
SAMPLE = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def onnx_upload(
    name: str = "model.onnx", content: bytes | None = None
) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name,
        content if content is not None else real_models.iris_onnx(),
        content_type="application/octet-stream",
    )


def register_payload(**fields: Any) -> dict[str, Any]:
    """A multipart body: JSON-valued fields are sent as JSON strings, as clients do."""
    body: dict[str, Any] = {"artifact": fields.pop("artifact", None) or onnx_upload()}
    for key, value in fields.items():
        body[key] = (
            value
            if isinstance(value, str) or hasattr(value, "read")
            else json.dumps(value)
        )
    return body


def require_service(available: bool, what: str) -> None:
    """Skip (outside CI) or fail (in CI) when a real service the test needs is missing."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI but is not reachable")
    pytest.skip(f"{what} not reachable; start it to run this test")


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def query_count(action: Callable[[], Any]) -> int:
    """How many SQL queries ``action`` runs."""
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


@functools.cache
def reachable(url: str) -> bool:
    """True if something answers on the URL's host and port (0.5 s to connect)."""
    parts = urlsplit(url)
    try:
        socket.create_connection(
            (parts.hostname, parts.port or 6379), timeout=0.5
        ).close()
    except OSError:
        return False
    return True


def forget_check_ahead(version: Any, timeout: float = 90) -> None:
    """Wait for the worker's check ahead of ``version`` (deployments.precheck) and
    drop it, so that its deployment loads the model itself: for tests that stop the
    worker while a deployment is loading."""
    from deployments.models import LoadCheck

    checked = LoadCheck.objects.filter(version_id=version.pk)
    wait_for(checked.exists, timeout=timeout, message="the check ahead")
    checked.delete()
