"""Imports of MLflow model folders from the sources an admin allowed
(``REGISTRY_MLFLOW_IMPORT_SOURCES``).

A version created through MLflow names where its files are (``source``, and in
MLflow 3 the logged model's ``model_id``). ``plan`` turns that into a JSON plan
when, and only when, an allowed source holds it; the import task then ``fetch``es
the folder into a temporary folder and the catalog checks and stores it like an
upload. Nothing else is ever fetched: the registry talks only to the servers and
buckets listed, follows no redirect, and bounds time, files, depth and bytes.

Plans (``kind``):
- ``logged_model``: ask each allowed tracking server for the logged model
  (``GET /api/2.0/mlflow/logged-models/<id>``), then read its artifact location;
- ``run``: the run's artifact location (``runs/get``) and a path inside it;
- ``proxy``: a path in the ``mlflow-artifacts`` proxy of the listed servers;
- ``s3``: a prefix in an allowed bucket.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from django.conf import settings

from modelformats import mlmodel

MAX_DEPTH = 12
DEADLINE = 1800  # seconds an import may take in all
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
MODEL_ID_RE = re.compile(r"^m-[A-Za-z0-9_-]{1,128}\Z")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
CHUNK = 1024 * 1024


class ImportFailed(Exception):
    """The folder could not be imported; ``message`` says why, for the producer."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def allowed() -> tuple[list[str], list[tuple[str, str]]]:
    """The allowed tracking servers (base URLs) and S3 locations (bucket, prefix)."""
    servers: list[str] = []
    buckets: list[tuple[str, str]] = []
    for entry in settings.REGISTRY_MLFLOW_IMPORT_SOURCES:
        if entry.startswith("s3://"):
            bucket, _, prefix = entry.removeprefix("s3://").partition("/")
            if bucket:
                buckets.append((bucket, prefix.strip("/")))
        elif entry.startswith(("http://", "https://")):
            servers.append(entry.rstrip("/"))
    return servers, buckets


def _safe_path(path: str) -> str | None:
    """A relative artifact path without '.', '..' or backslashes; '' for the root."""
    path = path.strip("/")
    if not path:
        return ""
    if len(path) > mlmodel.MAX_PATH or "\\" in path or "\x00" in path:
        return None
    if {".", "..", ""} & set(path.split("/")):
        return None
    return path


def _s3_plan(url: str) -> dict[str, Any] | None:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    key = _safe_path(key) or ""
    if not key or not settings.S3_BUCKET:
        return None
    for allowed_bucket, prefix in allowed()[1]:
        inside = not prefix or key == prefix or key.startswith(prefix + "/")
        if bucket == allowed_bucket and inside:
            return {"kind": "s3", "bucket": bucket, "prefix": key}
    return None


def plan(source: Any, model_id: Any = None) -> dict[str, Any] | None:
    """What the import task should fetch for a version created with ``source`` (and
    MLflow 3's ``model_id``), or None: the source stays inert text."""
    source = source if isinstance(source, str) else ""
    servers, _ = allowed()
    logged = source.removeprefix("models:/") if source.startswith("models:/") else ""
    if not source and isinstance(model_id, str):
        logged = model_id
    if MODEL_ID_RE.match(logged):
        if servers:
            return {"kind": "logged_model", "model_id": logged, "servers": servers}
        return None
    if source.startswith("runs:/") and servers:
        run_id, _, path = source.removeprefix("runs:/").partition("/")
        clean = _safe_path(path)
        if RUN_ID_RE.match(run_id) and clean is not None:
            return {"kind": "run", "run_id": run_id, "path": clean, "servers": servers}
        return None
    if source.startswith("mlflow-artifacts:") and servers:
        rest = source.removeprefix("mlflow-artifacts:")
        if rest.startswith("//"):  # mlflow-artifacts://host:port/path
            url = urlsplit(source)
            matching = [s for s in servers if urlsplit(s).netloc == url.netloc]
            clean = _safe_path(url.path)
            if matching and clean:
                return {"kind": "proxy", "path": clean, "servers": matching}
            return None
        clean = _safe_path(rest)
        return {"kind": "proxy", "path": clean, "servers": servers} if clean else None
    if source.startswith(("http://", "https://")):
        for server in servers:
            if source.startswith(server + PROXY + "/"):
                clean = _safe_path(source[len(server + PROXY) :])
                if clean:
                    return {"kind": "proxy", "path": clean, "servers": [server]}
        return None
    if source.startswith("s3://"):
        return _s3_plan(source)
    return None


def describe(plan: dict[str, Any]) -> str:
    """The plan in words, for events and messages."""
    kind = plan.get("kind")
    if kind == "logged_model":
        return f"logged model {plan['model_id']}"
    if kind == "run":
        return f"runs:/{plan['run_id']}/{plan['path']}"
    if kind == "proxy":
        return f"mlflow-artifacts:/{plan['path']}"
    return f"s3://{plan.get('bucket')}/{plan.get('prefix')}"


@dataclass
class Fetched:
    """A file fetched into the temporary folder, hashed on the way (the shape of an
    upload the catalog spools without copying)."""

    local: str
    sha256: str
    size: int

    def temporary_file_path(self) -> str:
        return self.local


@contextmanager
def fetched(plan: dict[str, Any]) -> Iterator[dict[str, Fetched]]:
    """The folder the plan names, fetched into a temporary folder that is removed
    afterwards: ``{path: Fetched}``. Raises ``ImportFailed``."""
    with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as folder:
        sink = _Sink(folder)
        if plan.get("kind") == "s3":
            _fetch_s3(plan["bucket"], plan["prefix"], sink)
        else:
            _fetch_mlflow(plan, sink)
        if not sink.files:
            raise ImportFailed(f"No files found at {describe(plan)}.")
        yield sink.files


class _Sink:
    """Writes fetched files, enforcing the limits on count and total size."""

    def __init__(self, folder: str):
        self.folder = folder
        self.files: dict[str, Fetched] = {}
        self.total = 0
        self.folders = 0
        self.deadline = time.monotonic() + DEADLINE

    def in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ImportFailed(f"The import took longer than {DEADLINE} seconds.")

    def enter_folder(self, path: str) -> None:
        self.folders += 1
        if self.folders > mlmodel.MAX_FILES:
            raise ImportFailed(
                f"The model folder has more than {mlmodel.MAX_FILES} subfolders."
            )
        self.admit(path + "/")

    def admit(self, path: str, size: int | None = None) -> None:
        if len(self.files) >= mlmodel.MAX_FILES:
            raise ImportFailed(
                f"The model folder has more than {mlmodel.MAX_FILES} files."
            )
        if size is not None and self.total + size > settings.REGISTRY_MAX_ARTIFACT_SIZE:
            raise ImportFailed(self._too_large())
        if path.count("/") >= MAX_DEPTH:
            raise ImportFailed(f"{path!r} is nested deeper than {MAX_DEPTH} folders.")

    def _too_large(self) -> str:
        return (
            "The model folder is larger than the registry's limit of "
            f"{settings.REGISTRY_MAX_ARTIFACT_SIZE} bytes."
        )

    def write(self, path: str, chunks: Any) -> None:
        self.admit(path)
        local = os.path.join(self.folder, str(len(self.files)))
        sha, size = hashlib.sha256(), 0
        with open(local, "wb") as handle:
            for chunk in chunks:
                self.in_time()
                size += len(chunk)
                if self.total + size > settings.REGISTRY_MAX_ARTIFACT_SIZE:
                    raise ImportFailed(self._too_large())
                sha.update(chunk)
                handle.write(chunk)
        self.total += size
        self.files[path] = Fetched(local, sha.hexdigest(), size)


# --- From an MLflow tracking server --------------------------------------------------


class _Server:
    """Requests to one allowed tracking server: no redirects, no retries, timeouts."""

    def __init__(self, base: str, pool: urllib3.PoolManager):
        self.base = base
        self.pool = pool

    def get(self, path: str, fields: dict[str, str] | None = None) -> Any:
        response = self.pool.request(
            "GET",
            self.base + path,
            fields=fields,
            redirect=False,
            preload_content=False,
        )
        return response

    def json(self, path: str, fields: dict[str, str] | None = None) -> Any:
        response = self.get(path, fields)
        try:
            body = response.read(CHUNK + 1)
        finally:
            response.release_conn()
        if response.status == 404:
            return None
        if response.status != 200:
            raise ImportFailed(
                f"{self.base}{path} answered {response.status}: "
                f"{body[:300].decode(errors='replace')}"
            )
        if len(body) > CHUNK:
            raise ImportFailed(f"{self.base}{path} answered more than 1 MiB.")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ImportFailed(f"{self.base}{path} answered no JSON.") from exc


def _pool() -> urllib3.PoolManager:
    timeout = settings.REGISTRY_MLFLOW_IMPORT_TIMEOUT
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
        retries=False,
        headers={"User-Agent": "model-registry/1"},
    )


def _fetch_mlflow(plan: dict[str, Any], sink: _Sink) -> None:
    allowed_servers = set(allowed()[0])
    servers = [s for s in plan.get("servers", []) if s in allowed_servers]
    if not servers:
        raise ImportFailed(
            f"No allowed tracking server left for {describe(plan)}: the registry's "
            "REGISTRY_MLFLOW_IMPORT_SOURCES changed since the version was created."
        )
    with _pool() as pool:
        missing = []
        for base in servers:
            server = _Server(base, pool)
            try:
                location = _location(server, plan)
            except urllib3.exceptions.HTTPError as exc:
                raise ImportFailed(f"Could not reach {base}: {exc}") from exc
            if location is None:
                missing.append(base)
                continue
            if location.startswith("s3://"):
                s3 = _s3_plan(location)
                if s3 is None:
                    raise ImportFailed(_unreadable(describe(plan), location))
                _fetch_s3(s3["bucket"], s3["prefix"], sink)
                return
            try:
                _walk(server, location, "", sink)
            except urllib3.exceptions.HTTPError as exc:
                raise ImportFailed(f"Could not download from {base}: {exc}") from exc
            if not sink.files and plan["kind"] == "proxy" and base != servers[-1]:
                continue
            return
    raise ImportFailed(f"Not found on {', '.join(missing)}: {describe(plan)}.")


def _unreadable(what: str, location: str) -> str:
    return (
        f"The tracking server keeps {what} at {location}, which is not a location "
        "the registry may read (REGISTRY_MLFLOW_IMPORT_SOURCES)."
    )


def _location(server: _Server, plan: dict[str, Any]) -> str | None:
    """The proxy path (or allowed ``s3://`` URL) of the plan's folder on ``server``;
    None if the server does not know it."""
    kind = plan["kind"]
    if kind == "proxy":
        return str(plan["path"])
    if kind == "logged_model":
        answer = server.json(
            f"/api/2.0/mlflow/logged-models/{quote(plan['model_id'], safe='')}"
        )
        uri = ((answer or {}).get("model") or {}).get("info", {}).get("artifact_uri")
        what, suffix = describe(plan), ""
    else:
        answer = server.json("/api/2.0/mlflow/runs/get", {"run_id": plan["run_id"]})
        uri = ((answer or {}).get("run") or {}).get("info", {}).get("artifact_uri")
        what, suffix = describe(plan), plan["path"]
    if answer is None:
        return None
    if not isinstance(uri, str) or not uri:
        raise ImportFailed(f"{server.base} reports no artifact location for {what}.")
    uri = uri.rstrip("/") + (f"/{suffix}" if suffix else "")
    if uri.startswith("s3://"):
        return uri
    if uri.startswith("mlflow-artifacts:"):
        rest = uri.removeprefix("mlflow-artifacts:")
        path = urlsplit(uri).path if rest.startswith("//") else rest
        clean = _safe_path(path)
        if clean:
            return clean
    raise ImportFailed(_unreadable(what, uri))


def _walk(server: _Server, root: str, below: str, sink: _Sink) -> None:
    """Download every file under ``root`` through the server's artifact proxy."""
    sink.in_time()
    folder = f"{root}/{below}" if below else root
    listing = server.json(PROXY, {"path": folder})
    if listing is None:
        raise ImportFailed(f"{server.base} has no artifacts at {folder!r}.")
    for entry in listing.get("files") or []:
        name = posixpath.basename(str(entry.get("path", "")))
        relative = f"{below}/{name}" if below else name
        if _safe_path(relative) != relative:
            raise ImportFailed(f"{server.base} lists an unsafe path {relative!r}.")
        if entry.get("is_dir"):
            sink.enter_folder(relative)
            _walk(server, root, relative, sink)
            continue
        size = entry.get("file_size")
        sink.admit(relative, int(size) if isinstance(size, int | str) else None)
        response = server.get(f"{PROXY}/{quote(f'{root}/{relative}')}")
        try:
            if response.status != 200:
                raise ImportFailed(
                    f"{server.base} answered {response.status} for {relative!r}."
                )
            sink.write(relative, response.stream(CHUNK))
        finally:
            response.release_conn()


# --- From an allowed S3 location ------------------------------------------------------


def _fetch_s3(bucket: str, prefix: str, sink: _Sink) -> None:
    from catalog.services import artifact_storage

    try:
        client = artifact_storage().connection.meta.client
        paginator = client.get_paginator("list_objects_v2")
        objects: list[tuple[str, str]] = []
        total = 0
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/"):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) + 1 :]
                if relative.endswith("/"):
                    continue
                if _safe_path(relative) != relative:
                    raise ImportFailed(
                        f"s3://{bucket}/{item['Key']} has an unsafe path."
                    )
                total += item["Size"]
                sink.admit(relative, total)
                if len(objects) >= mlmodel.MAX_FILES:
                    raise ImportFailed(
                        f"The model folder has more than {mlmodel.MAX_FILES} files."
                    )
                objects.append((relative, item["Key"]))
        for relative, key in objects:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
            sink.write(relative, body.iter_chunks(CHUNK))
    except ImportFailed:
        raise
    except Exception as exc:  # the outside world: any failure ends the import
        raise ImportFailed(f"Could not read s3://{bucket}/{prefix}: {exc}") from exc
