"""The Ray Serve target: each approved version of a ``ray`` endpoint is one Serve
application on the cluster, applied through Serve's declarative REST API.

One target interface (``plan``, ``apply``, ``status``, ``remove``) so that other
serving systems can be added the same way. Application ``{endpoint}-v{n}`` serves at
``/{endpoint}/v{n}`` on Ray's HTTP proxy; ``deployments.ray_app`` runs in its replicas.
A deployment adds the new version's application next to the ones serving, waits
until Ray reports it ``RUNNING`` and the new version answers, then switches the live
pointer (so ``/invocations`` forwards to it) and removes applications other than the
live and the previous version. When Ray fails, the new application is removed and
the endpoint keeps its live version, still serving at its own route.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing

from catalog.models import ModelVersion
from common import leases, outbound
from deployments import backends
from deployments.models import ClusterLock, Deployment, Endpoint
from deployments.services import transitions
from modelformats.formats import SKOPS_EXTRA_TRUSTED

SALT = "deployments.ray-artifact"
APPLICATIONS = "/api/serve/applications/"
FAILED_STATES = {"DEPLOY_FAILED", "UNHEALTHY"}


def dashboard_url(endpoint: Endpoint) -> str:
    return _checked(endpoint.ray_dashboard, settings.REGISTRY_RAY_DASHBOARD_URL)


def serve_url(endpoint: Endpoint) -> str:
    return _checked(endpoint.ray_serve, settings.REGISTRY_RAY_SERVE_URL)


def _checked(url: str, configured: str) -> str:
    """The cluster address to call. The admin's configured cluster is trusted; an
    endpoint's own address is an outbound call like a webhook's, checked again here
    (after DNS) so it cannot lead to a private or metadata address unless
    ``REGISTRY_OUTBOUND_ALLOW`` allows it."""
    if url == configured.rstrip("/"):
        return url
    try:
        outbound.resolve(url)
    except outbound.OutboundRefused as exc:
        raise backends.PermanentError(f"Ray address {url} refused: {exc}") from exc
    return url


def app_name(endpoint: Endpoint, number: int) -> str:
    return f"{endpoint.name}-v{number}"


def route(endpoint: Endpoint, number: int) -> str:
    return f"/{endpoint.name}/v{number}"


def artifact_url(version: ModelVersion) -> str:
    """A URL Ray's replicas fetch the artifact from without a token: signed, naming
    the version and its digest, valid REGISTRY_RAY_ARTIFACT_URL_TTL seconds."""
    token = signing.dumps(
        {"v": version.pk, "sha256": version.artifact_sha256}, salt=SALT
    )
    return f"{settings.REGISTRY_PUBLIC_URL}/api/v1/ray-artifacts/{token}"


def artifact_token_load(token: str) -> dict[str, Any]:
    """What a signed artifact URL names; raises signing.BadSignature."""
    loaded: dict[str, Any] = signing.loads(
        token, salt=SALT, max_age=settings.REGISTRY_RAY_ARTIFACT_URL_TTL
    )
    return loaded


# -- the target interface ------------------------------------------------------------
def plan(endpoint: Endpoint, version: ModelVersion) -> dict[str, Any]:
    """The Serve application config of ``version`` on ``endpoint``."""
    replicas: dict[str, Any]
    if endpoint.ray_max_replicas:
        replicas = {
            "autoscaling_config": {
                "min_replicas": endpoint.ray_min_replicas,
                "max_replicas": endpoint.ray_max_replicas,
            }
        }
    else:
        replicas = {"num_replicas": endpoint.ray_num_replicas}
    sample = (version.sample_payload or {}).get("inputs")
    return {
        "name": app_name(endpoint, version.version),
        "route_prefix": route(endpoint, version.version),
        "import_path": "deployments.ray_app:build",
        "args": {
            "endpoint": endpoint.name,
            "version": version.version,
            "artifact_url": artifact_url(version),
            "sha256": version.artifact_sha256,
            "format": version.artifact_format,
            "sample": sample,
            # The skops types a load here trusts (a stored version passed its check).
            "trusted": sorted(
                {*SKOPS_EXTRA_TRUSTED, *settings.REGISTRY_SKOPS_TRUSTED_TYPES}
            )
            if version.artifact_format == "skops"
            else [],
        },
        "deployments": [
            {
                "name": "Model",
                "ray_actor_options": {"num_cpus": endpoint.ray_num_cpus},
                **replicas,
            }
        ],
    }


def status(endpoint: Endpoint) -> dict[str, Any]:
    """Serve's applications on the endpoint's cluster, by name."""
    return _status_at(dashboard_url(endpoint))


def _status_at(address: str, timeout: float = 10.0) -> dict[str, Any]:
    code, body = backends.ray_request("GET", address + APPLICATIONS, timeout=timeout)
    if code != 200 or not isinstance(body, dict):
        raise backends.TransientError(f"Ray dashboard answered {code}: {body}")
    applications: dict[str, Any] = body.get("applications") or {}
    return applications


LOCK_LEASE = timedelta(seconds=60)
LOCK_WAIT = 90.0  # seconds a deployment waits for another one's change of the list


@contextmanager
def cluster_lock(address: str, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold the cluster's lock while the block changes its application list; wait
    for another holder (a deployment of another endpoint) up to ``wait`` seconds,
    then give up with a transient error (the deployment retries)."""
    ClusterLock.objects.get_or_create(address=address[:2000])
    holder = uuid.uuid4().hex
    rows = ClusterLock.objects.filter(address=address[:2000])
    deadline = time.monotonic() + wait
    pause = 0.05
    while not leases.claim(
        rows, lease_field="lease_expires_at", lease=LOCK_LEASE, holder=holder
    ):
        if time.monotonic() > deadline:
            raise backends.TransientError(
                f"Another deployment has been changing {address}'s applications "
                f"for over {wait:.0f} s."
            )
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
    try:
        yield
    finally:
        rows.filter(holder=holder).update(lease_expires_at=None, holder="")


def apply(endpoint: Endpoint, configs: dict[str, dict[str, Any] | None]) -> None:
    """Set (or, for None, remove) these applications, keeping every other one on the
    cluster as it is deployed (Serve's PUT replaces the whole list): under the
    cluster's lock, so two endpoints deploying at once do not drop each other's."""
    address = dashboard_url(endpoint)
    with cluster_lock(address):
        _apply_at(address, configs)


def _apply_at(address: str, configs: dict[str, dict[str, Any] | None]) -> None:
    current = {
        name: app["deployed_app_config"]
        for name, app in _status_at(address).items()
        if app.get("deployed_app_config") and app.get("status") != "DELETING"
    }
    current.update(configs)
    body = {"applications": [config for config in current.values() if config]}
    code, answer = backends.ray_request("PUT", address + APPLICATIONS, body, timeout=30)
    if code >= 500:
        raise backends.TransientError(f"Ray dashboard answered {code}: {answer}")
    if code >= 300:
        raise backends.PermanentError(f"Ray refused the application ({code}): {answer}")


def remove(endpoint: Endpoint, keep: set[int]) -> None:
    """Remove the endpoint's applications except those of versions ``keep``."""
    _remove_at(dashboard_url(endpoint), endpoint.name, keep)


def _remove_at(address: str, name: str, keep: set[int]) -> int:
    prefix = f"{name}-v"
    with cluster_lock(address):
        stale: dict[str, dict[str, Any] | None] = {
            app: None
            for app in _status_at(address)
            if app.startswith(prefix)
            and app[len(prefix) :].isdigit()
            and int(app[len(prefix) :]) not in keep
        }
        if stale:
            _apply_at(address, stale)
    return len(stale)


def remove_all(address: str, name: str) -> int:
    """Remove every application of the endpoint ``name`` from the cluster at
    ``address`` (``targets.remove``, a task after the endpoint was deleted, stopped
    or moved to another target or cluster); the address is checked again like any
    endpoint's own."""
    return _remove_at(
        _checked(address.rstrip("/"), settings.REGISTRY_RAY_DASHBOARD_URL),
        name,
        keep=set(),
    )


def page_facts(endpoint: Endpoint, timeout: float = 2.0) -> dict[str, Any]:
    """What the endpoint page shows of a ``ray`` endpoint: its cluster, its replica
    settings, and its applications as Ray reports them now (asked with a short
    timeout: a cluster that does not answer is said so, the page still renders)."""
    if endpoint.ray_max_replicas is not None:
        replicas = (
            f"autoscaling {endpoint.ray_min_replicas} to {endpoint.ray_max_replicas}"
        )
    else:
        replicas = f"{endpoint.ray_num_replicas}"
    facts: dict[str, Any] = {
        "dashboard": endpoint.ray_dashboard,
        "serve": endpoint.ray_serve,
        "replicas": replicas,
        "cpus": endpoint.ray_num_cpus,
        "applications": [],
        "error": "",
    }
    prefix = f"{endpoint.name}-v"
    try:
        applications = _status_at(dashboard_url(endpoint), timeout)
    except (backends.TransientError, backends.PermanentError) as exc:
        facts["error"] = str(exc)
        return facts
    for name, app in sorted(applications.items()):
        if not name.startswith(prefix):
            continue
        running = sum(
            1
            for deployment in (app.get("deployments") or {}).values()
            for replica in deployment.get("replicas") or []
            if replica.get("state") == "RUNNING"
        )
        facts["applications"].append(
            {
                "name": name,
                "route": app.get("route_prefix") or "",
                "status": app.get("status", ""),
                "message": app.get("message", ""),
                "running": running,
            }
        )
    return facts


# -- a deployment --------------------------------------------------------------------
def ray_deploy(
    deployment: Deployment,
    version: ModelVersion,
    config: dict[str, Any],
    log_line: Callable[[str], None],
) -> bool:
    """Apply ``config`` (``plan``'s), wait for RUNNING and an answer from the new
    version, then switch."""
    endpoint = deployment.endpoint
    name = config["name"]
    existed = name in status(endpoint)
    started = time.monotonic()
    apply(endpoint, {name: config})
    log_line(f"Ray: application {name} applied at {dashboard_url(endpoint)}")
    try:
        _wait_running(endpoint, name)
        _probe(endpoint, version)
    except backends.PermanentError:
        if not existed:
            try:
                apply(endpoint, {name: None})
            except (backends.TransientError, backends.PermanentError):
                log_line(f"Ray: could not remove the failed application {name}")
        raise
    log_line(
        f"Ray: {name} RUNNING and v{version.version} answered at "
        f"{serve_url(endpoint)}{route(endpoint, version.version)} in "
        f"{time.monotonic() - started:.1f} s"
    )
    previous = endpoint.live_version.version if endpoint.live_version else None
    changed = transitions.succeed(deployment)
    if changed:
        keep = {version.version} | ({previous} if previous else set())
        try:
            remove(endpoint, keep)
        except (backends.TransientError, backends.PermanentError) as exc:
            log_line(f"Ray: older applications left in place: {exc}")
    return changed


def _wait_running(endpoint: Endpoint, name: str) -> None:
    deadline = time.monotonic() + settings.REGISTRY_RAY_DEPLOY_TIMEOUT
    last = "not reported yet"
    while time.monotonic() < deadline:
        app = status(endpoint).get(name)
        if app is not None:
            state = app.get("status", "")
            if state == "RUNNING":
                return
            if state in FAILED_STATES:
                details = [
                    f"{deployment}: {info.get('message', '')}"
                    for deployment, info in (app.get("deployments") or {}).items()
                    if info.get("message")
                ]
                said = " ".join([app.get("message", ""), *details])
                raise backends.PermanentError(
                    _clip(f"Ray reported {name} {state}: {said}")
                )
            last = f"{state} {app.get('message', '')}".strip()
        time.sleep(0.5)
    raise backends.PermanentError(
        f"Ray did not report {name} RUNNING within "
        f"{settings.REGISTRY_RAY_DEPLOY_TIMEOUT:.0f} s (last: {last})"[:4000]
    )


def _clip(text: str, head: int = 600, tail: int = 3000) -> str:
    """Ray's message, its start and its end (where a replica's error is) kept."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]} … {text[-tail:]}"


def _probe(endpoint: Endpoint, version: ModelVersion) -> None:
    """The new version answers its sample through Ray's HTTP proxy."""
    sample = (version.sample_payload or {}).get("inputs")
    url = serve_url(endpoint) + route(endpoint, version.version)
    if sample is None:
        code, body = backends.ray_request("GET", url)
    else:
        code, body = backends.ray_request("POST", url, {"inputs": sample})
    answered = isinstance(body, dict) and body.get("version", body.get("model_version"))
    if code != 200 or answered != version.version:
        raise backends.PermanentError(
            f"v{version.version} did not answer through Ray ({code}): {body}"[:4000]
        )


def describe(endpoint: Endpoint) -> tuple[int, Any]:
    """What the live version's replicas say: its version, what it takes and answers."""
    if endpoint.live_version is None:
        return 503, None
    url = serve_url(endpoint) + route(endpoint, endpoint.live_version.version)
    return backends.ray_request("GET", url, timeout=10)


def forward(endpoint: Endpoint, inputs: Any) -> tuple[int, Any]:
    """An invocation of a ``ray`` endpoint, sent to its live version on Ray, waiting
    at most ``REGISTRY_INVOCATION_TIMEOUT`` (30 s where that is off)."""
    if endpoint.live_version is None:
        return 503, None
    url = serve_url(endpoint) + route(endpoint, endpoint.live_version.version)
    timeout = settings.REGISTRY_INVOCATION_TIMEOUT or 30.0
    return backends.ray_request("POST", url, {"inputs": inputs}, timeout=timeout)
