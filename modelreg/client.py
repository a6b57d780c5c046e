"""A small HTTP client for the registry API: token auth, timeouts, streaming upload."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import requests


class ApiError(Exception):
    """The registry answered with an error; ``status`` 0 means it was unreachable."""

    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


class Client:
    def __init__(self, url: str, token: str, timeout: float = 30.0):
        self.base = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Token {token}", "User-Agent": "modelreg/1"}
        )
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.base + path, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(
                0, f"cannot reach the registry at {self.base}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def upload(
        self,
        path: str,
        fields: dict[str, str],
        file_path: str,
        progress: bool,
        idempotency_key: str | None = None,
    ) -> Any:
        """Multipart POST that streams the file from disk (never whole in memory)."""
        body = _Multipart(fields, file_path, progress)
        headers = {"Content-Type": body.content_type, "Content-Length": str(len(body))}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return self.request(
            "POST",
            path,
            data=iter(body),
            headers=headers,
            timeout=max(self.timeout, 600),
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


class _Multipart:
    def __init__(self, fields: dict[str, str], file_path: str, progress: bool):
        self.boundary = uuid.uuid4().hex
        self.file_path, self.progress = file_path, progress
        self.size = os.path.getsize(file_path)
        parts = []
        for name, value in fields.items():
            parts.append(
                f"--{self.boundary}\r\nContent-Disposition: form-data; "
                f'name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        filename = os.path.basename(file_path).replace('"', "")
        parts.append(
            f"--{self.boundary}\r\nContent-Disposition: form-data; "
            f'name="artifact"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        self.head = b"".join(parts)
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        sent = 0
        with open(self.file_path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                sent += len(chunk)
                if self.progress:
                    _bar(sent, self.size)
                yield chunk
        if self.progress:
            sys.stderr.write("\n")
        yield self.tail


def _bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    percent = 100 * done / total if total else 100
    sys.stderr.write(
        f"\rupload [{'#' * filled}{'.' * (width - filled)}] "
        f"{percent:5.1f}% {done / 1e6:.1f}/{total / 1e6:.1f} MB"
    )
    sys.stderr.flush()


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
