"""A small HTTP client for the registry API: token auth, timeouts, streaming upload,
one retry on a reset connection when repeating the request is safe."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

import requests
from requests_toolbelt.multipart.encoder import (
    MultipartEncoder,
    MultipartEncoderMonitor,
)
from tqdm import tqdm

IDEMPOTENCY_KEY = "Idempotency-Key"
# Methods that mean the same when sent twice; a POST is repeated only with a key.
REPEATABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Errors of a connection that broke (reset, closed under us): the server may or may
# not have seen the request. Timeouts are not among them: a slow server is not
# helped by a second copy of the request.
BROKEN = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class ApiError(Exception):
    """The registry answered with an error; ``status`` 0 means it was unreachable."""

    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def _parts(file_path: str) -> list[tuple[str, str]]:
    """``(part name, local path)``: ``artifact`` for a file, ``file:<path>`` for each
    file of a folder (relative POSIX paths, in a stable order)."""
    if not os.path.isdir(file_path):
        return [("artifact", file_path)]
    found = []
    for folder, dirs, names in os.walk(file_path):
        dirs.sort()
        for name in sorted(names):
            local = os.path.join(folder, name)
            relative = os.path.relpath(local, file_path).replace(os.sep, "/")
            found.append((f"file:{relative}", local))
    return found


class Client:
    def __init__(self, url: str, token: str, timeout: float = 30.0):
        self.base = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Token {token}", "User-Agent": "modelreg/1"}
        )
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._answer(self._send(method, path, lambda: kwargs))

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def upload(
        self,
        path: str,
        fields: dict[str, Any],
        file_path: str,
        progress: bool,
        idempotency_key: str | None = None,
    ) -> Any:
        """Multipart POST that streams the file from disk (never whole in memory),
        with a known length: no chunked encoding, which servers refuse next to it.
        A folder (an MLflow model) goes as one ``file:<path>`` part per file."""
        headers = {IDEMPOTENCY_KEY: idempotency_key} if idempotency_key else {}
        with contextlib.ExitStack() as stack:

            def attempt() -> dict[str, Any]:
                # Each attempt reads the files from their start, with a fresh bar.
                parts = dict(fields)
                for part, local in _parts(file_path):
                    handle = stack.enter_context(open(local, "rb"))
                    parts[part] = (
                        os.path.basename(local),
                        handle,
                        "application/octet-stream",
                    )
                encoder = MultipartEncoder(parts)
                bar = stack.enter_context(_progress_bar(encoder.len, progress))
                monitor = MultipartEncoderMonitor(
                    encoder, lambda m: bar.update(m.bytes_read - bar.n)
                )
                return {
                    "data": monitor,
                    "headers": {**headers, "Content-Type": monitor.content_type},
                    "timeout": max(self.timeout, 600),
                }

            return self._answer(self._send("POST", path, attempt))

    def _send(
        self,
        method: str,
        path: str,
        arguments: Callable[[], dict[str, Any]],
        *,
        again: bool = True,
    ) -> requests.Response:
        """Send the request; once more if the connection broke and repeating is safe
        (an idempotent method, or a POST the server deduplicates by its key)."""
        kwargs = {"timeout": self.timeout, **arguments()}
        repeatable = method in REPEATABLE or IDEMPOTENCY_KEY in (
            kwargs.get("headers") or {}
        )
        try:
            return self.session.request(method, self.base + path, **kwargs)
        except BROKEN as exc:
            if again and repeatable and not isinstance(exc, requests.Timeout):
                return self._send(method, path, arguments, again=False)
            raise _unreachable(self.base, exc) from exc
        except requests.RequestException as exc:
            raise _unreachable(self.base, exc) from exc

    @staticmethod
    def _answer(response: requests.Response) -> Any:
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _unreachable(base: str, exc: Exception) -> ApiError:
    return ApiError(0, f"cannot reach the registry at {base}: {exc}")


def _progress_bar(total: int, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        desc="upload",
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not enabled,
        leave=True,
    )


def _error(response: requests.Response) -> ApiError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    message = (
        error.get("message") or f"HTTP {response.status_code}: {response.text[:200]}"
    )
    return ApiError(response.status_code, message, error.get("fields"))


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
