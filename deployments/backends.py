"""Every call from a deployment to the outside: artifact storage, the model loader in
a child process, and the webhook target. Tests patch this seam, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import urllib3
from django.conf import settings

from catalog.models import ModelVersion
from catalog.services import artifact_storage
from common import outbound
from deployments import loader
from modelformats import mlmodel, storage


class PermanentError(Exception):
    """Retrying cannot help: the deployment fails at once."""


class TransientError(Exception):
    """A retry may help (storage or network hiccup)."""


@contextmanager
def verified_artifact(version: ModelVersion) -> Iterator[str]:
    """A local copy of the artifact whose SHA-256 matches the one recorded at upload
    (for a folder: the model file ``MLmodel`` named, within an intact manifest)."""
    folder_model_check(version)
    try:
        with storage.local_copy(
            artifact_storage(),
            version.artifact_key,
            sha256=version.artifact_sha256,
            temp_dir=settings.FILE_UPLOAD_TEMP_DIR,
        ) as path:
            yield path
    except (storage.ArtifactMissing, storage.ChecksumMismatch) as exc:
        raise PermanentError(str(exc)) from exc
    except storage.ArtifactUnreadable as exc:
        raise TransientError(str(exc)) from exc


def folder_model_check(version: ModelVersion) -> None:
    """A folder version's manifest still hashes to its digest and lists the model
    file with the key and SHA-256 the version loads; single files pass as they are."""
    if not version.is_folder:
        return
    manifest = version.artifact_manifest
    if mlmodel.manifest_digest(manifest) != version.manifest_sha256:
        raise PermanentError("The folder's manifest does not match its digest.")
    listed = {(e["key"], e["sha256"], e["size"]) for e in manifest}
    wanted = (version.artifact_key, version.artifact_sha256, version.artifact_size)
    if wanted not in listed:
        raise PermanentError("The model file is not the one the manifest lists.")


def builtin_check(version: ModelVersion, log: Callable[[str], None]) -> dict[str, Any]:
    """Verify, load and warm the model in a limited child process."""
    with verified_artifact(version) as path:
        log(
            f"artifact verified: sha256 {version.artifact_sha256[:12]}…, "
            f"{version.artifact_size} bytes, {version.artifact_format}"
        )
        try:
            report = loader.check_isolated(
                path,
                version.artifact_format,
                version.sample_payload,
                declared=loader.declared_shape(version.input_schema),
            )
        except loader.LoadError as exc:
            raise PermanentError(str(exc)) from exc
    log(
        f"model loaded and answered its warm-up ({report['rows']} row(s), input "
        f"{report['input']['name']} {report['input']['dtype']} {report['input']['shape']}, "
        f"outputs {', '.join(report['outputs'])})"
    )
    return report


def webhook_send(
    url: str, secret: str, payload: dict[str, Any], delivery_id: str
) -> outbound.OutboundResponse:
    """POST the signed deployment request; transport errors are transient."""
    try:
        response = outbound.post_json(
            url,
            payload,
            secret=secret,
            headers={"X-Registry-Delivery": delivery_id},
            timeout=10,
        )
    except outbound.OutboundRefused as exc:
        raise PermanentError(f"webhook URL refused: {exc}") from exc
    except Exception as exc:  # urllib3 transport errors
        raise TransientError(
            f"webhook POST failed: {type(exc).__name__}: {exc}"
        ) from exc
    if response.status >= 500 or response.status == 429:
        raise TransientError(
            f"webhook answered {response.status}: {response.body[:200]}"
        )
    if response.status >= 300:
        raise PermanentError(
            f"webhook answered {response.status}: {response.body[:200]}"
        )
    return response


# One pool per process for Ray calls: kept-alive connections to the cluster's HTTP
# proxy make a forwarded invocation one round trip, not a new connection each time.
_RAY_POOL = urllib3.PoolManager(num_pools=16, maxsize=8, retries=False)


def ray_request(
    method: str, url: str, body: Any = None, timeout: float = 10.0
) -> tuple[int, Any]:
    """One call to a Ray cluster (Serve's REST API or its HTTP proxy): the status and
    the JSON (or text) answered. Transport errors are transient; redirects are not
    followed (the address was checked, where it leads was not)."""
    import json

    if not url.startswith(("http://", "https://")):
        raise PermanentError(f"Ray address must be http(s): {url}")
    data = None if body is None else json.dumps(body).encode()
    try:
        response = _RAY_POOL.request(
            method,
            url,
            body=data,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            redirect=False,
            retries=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        raise TransientError(f"Ray at {url}: {type(exc).__name__}: {exc}") from exc
    status, raw = response.status, response.data
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")
