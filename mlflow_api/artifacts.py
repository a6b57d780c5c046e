"""The read side of MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/``) for the
files of versions registered here, so ``mlflow.pyfunc.load_model("models:/name@alias")``
downloads from this registry.

A version's folder is ``models/<name>/<version>/``: its model file, and for ONNX an
``MLmodel`` naming it (the ``onnx`` and ``python_function`` flavours), written from
what the registry recorded; a folder version (an MLflow model) serves the files
its manifest lists, its own ``MLmodel`` among them. Only verified files are served.
Nothing is uploaded here: files come in through ``/api/v1/`` (uploads) or are imported
from an allowed source after MLflow's ``create_model_version`` (``catalog.imports``).
"""

from __future__ import annotations

import platform
import re
from typing import Any

from django.db import transaction
from django.http import FileResponse, HttpResponse, JsonResponse
from rest_framework.request import Request

from catalog import selectors, services
from catalog.models import ModelVersion
from common.errors import NotFound
from mlflow_api import errors
from mlflow_api.errors import MlflowError
from mlflow_api.shapes import ARTIFACTS_ROOT as ROOT
from mlflow_api.shapes import UPLOADS_ROOT as UPLOADS
from mlflow_api.shapes import unservable
from mlflow_api.views import MlflowView

PATH_RE = re.compile(r"^models/([^/]+)/([0-9]{1,18})(?:/(.*))?\Z")
FILE_NAMES = {"onnx": "model.onnx", "skops": "model.skops"}
MLMODEL = """\
artifact_path: model
flavors:
  onnx:
    code: null
    data: {data}
    providers:
    - CPUExecutionProvider
  python_function:
    data: {data}
    loader_module: mlflow.onnx
    python_version: {python}
model_uuid: {uuid}
registry_sha256: {sha256}
"""


def _files(version: ModelVersion) -> dict[str, int | None]:
    """The folder's files and sizes (``None``: made on request)."""
    name = FILE_NAMES.get(version.artifact_format, "model.bin")
    found: dict[str, int | None] = {name: version.artifact_size}
    if version.artifact_format == "onnx":
        found["MLmodel"] = None
    return found


def _folder_listing(files: list[dict[str, Any]], rest: str) -> list[dict[str, Any]]:
    """The direct children of ``rest`` among ``files`` (a folder version's manifest,
    or a staged batch), directories included, each by its name: as MLflow's proxy
    answers, the client joins it to the folder it asked for."""
    prefix = f"{rest.strip('/')}/" if rest.strip("/") else ""
    found: dict[str, dict[str, Any]] = {}
    for entry in files:
        if not entry["path"].startswith(prefix):
            continue
        head, _, tail = entry["path"][len(prefix) :].partition("/")
        if tail:
            found[head] = {"path": head, "is_dir": True}
        else:
            found[head] = {"path": head, "is_dir": False, "file_size": entry["size"]}
    return [found[name] for name in sorted(found)]


def _mlmodel(version: ModelVersion) -> bytes:
    return MLMODEL.format(
        data=FILE_NAMES["onnx"],
        python=platform.python_version(),
        uuid=f"{version.group_id}-{version.version}",
        sha256=version.artifact_sha256,
    ).encode()


def _locate(path: str) -> tuple[ModelVersion, str]:
    match = PATH_RE.match(path.strip("/"))
    if match is None:
        raise MlflowError(
            errors.RESOURCE_DOES_NOT_EXIST,
            f"No artifact at {path!r}: this registry serves models/<name>/<version>/.",
        )
    name, number, rest = match.group(1), int(match.group(2)), match.group(3) or ""
    try:
        version = selectors.version_get(name, number)
    except NotFound as exc:
        raise MlflowError(errors.RESOURCE_DOES_NOT_EXIST, exc.message) from exc
    reason = unservable(version)
    if reason:
        raise MlflowError(errors.RESOURCE_DOES_NOT_EXIST, reason)
    return version, rest


def _batch(path: str) -> tuple[str, str] | None:
    """``(batch, path inside it)`` for a path under ``uploads/``; None otherwise."""
    head, _, rest = path.strip("/").partition("/")
    if head != UPLOADS:
        return None
    batch, _, inside = rest.partition("/")
    return batch, inside


def _list_staged(request: Request, batch: str, inside: str) -> Any:
    staged = services.staged_list(actor=request.user, batch=batch)
    files = [{"path": path, "size": size} for path, size in staged.items()]
    return JsonResponse({"files": _folder_listing(files, inside)})


def _upload(request: Request, path: str) -> Any:
    staged = _batch(path)
    if staged is None or not staged[0] or not staged[1]:
        raise MlflowError(
            errors.INVALID_PARAMETER_VALUE,
            f"Cannot upload to {path!r}: this registry takes uploads at "
            f"{UPLOADS}/<batch>/<path>, then create_model_version(source=<that "
            "batch's URL>) registers them as a version.",
        )
    services.staged_put(
        actor=request.user, batch=staged[0], path=staged[1], stream=request.stream
    )
    return JsonResponse({})


def _list(request: Request, *args: Any) -> Any:
    path = request.query_params.get("path", "")
    if path.strip("/") in (ROOT, UPLOADS) or not path:
        return JsonResponse({"files": []})
    staged = _batch(path)
    if staged is not None:
        return _list_staged(request, *staged)
    version, rest = _locate(path)
    if version.is_folder:
        return JsonResponse({"files": _folder_listing(version.artifact_manifest, rest)})
    files = _files(version)
    if rest:
        if rest not in files:
            return JsonResponse({"files": []})
        entries = {rest: files[rest]}
    else:
        entries = files
    listed = []
    for name, size in entries.items():
        entry: dict[str, Any] = {"path": name, "is_dir": False}
        if size is not None:
            entry["file_size"] = size
        listed.append(entry)
    return JsonResponse({"files": listed})


def _download(request: Request, path: str) -> Any:
    version, rest = _locate(path)
    if version.is_folder:
        return _folder_download(version, rest)
    files = _files(version)
    if rest not in files:
        raise MlflowError(
            errors.RESOURCE_DOES_NOT_EXIST, f"No file {rest!r} in version folder."
        )
    if rest == "MLmodel":
        return HttpResponse(_mlmodel(version), content_type="text/yaml")
    handle = _open(version.artifact_key, rest)
    response = FileResponse(handle, content_type="application/octet-stream")
    response["Content-Length"] = str(version.artifact_size)
    response["X-Artifact-SHA256"] = version.artifact_sha256
    return response


def _folder_download(version: ModelVersion, rest: str) -> Any:
    try:
        entry = selectors.folder_file(version, rest)
    except NotFound as exc:
        raise MlflowError(errors.RESOURCE_DOES_NOT_EXIST, exc.message) from exc
    handle = _open(entry["key"], rest)
    response = FileResponse(handle, content_type="application/octet-stream")
    response["Content-Length"] = str(entry["size"])
    response["X-Artifact-SHA256"] = entry["sha256"]
    return response


def _open(key: str, path: str) -> Any:
    try:
        return services.artifact_open(key, repr(path))
    except NotFound as exc:
        raise MlflowError(errors.RESOURCE_DOES_NOT_EXIST, exc.message) from exc


class ArtifactListView(MlflowView):
    handlers = {"GET": lambda request, params: {}}

    def _handle(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return _list(request)


class ArtifactFileView(MlflowView):
    handlers = {"GET": lambda request, params: {}, "PUT": lambda request, params: {}}

    def _handle(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.method == "PUT":
            with transaction.atomic():
                return _upload(request, kwargs["path"])
        return _download(request, kwargs["path"])
