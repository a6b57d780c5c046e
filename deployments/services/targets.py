"""Where an endpoint's versions serve, behind one small interface.

Every kind of endpoint target (``builtin``, ``webhook``, ``ray``) is a ``DeployTarget``:

- ``plan(deployment, version)``: what the target will run for the deployment (the
  model load a built-in endpoint checks, the payload a webhook receives, the Serve
  application Ray runs), computed without side effects;
- ``apply(deployment, version, plan, log_line)``: make it so; ends the deployment
  (``transitions.succeed``) when the new version serves, or leaves it waiting for
  the target to report; returns the run's outcome (``succeeded``, ``waiting``,
  ``lost-lease``); raises ``backends.TransientError`` / ``PermanentError``;
- ``status(endpoint)``: what the target reports serving for the endpoint now;
- ``where(endpoint)`` and ``remove(where, name)``: the place the target keeps the
  endpoint's versions ('' when it keeps nothing of its own), and taking them all off
  that place once the endpoint was deleted, stopped or moved (a task, after commit).

A new kind (KServe, SageMaker endpoints) is one more class in ``TARGETS``: the
deployment run, endpoint changes and the reconciler go through this table only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from catalog.models import ModelVersion
from deployments.models import Deployment, Endpoint, Target
from deployments.services import prechecks, ray_target, transitions, webhook_target

LogLine = Callable[[str], None]


class DeployTarget(Protocol):
    def plan(self, deployment: Deployment, version: ModelVersion) -> Any: ...

    def apply(
        self,
        deployment: Deployment,
        version: ModelVersion,
        plan: Any,
        log_line: LogLine,
    ) -> str: ...

    def status(self, endpoint: Endpoint) -> dict[str, Any]: ...

    def where(self, endpoint: Endpoint) -> str: ...

    def remove(self, where: str, name: str) -> None: ...


def _outcome(changed: bool) -> str:
    """``succeeded``, or ``lost-lease`` when another worker had taken over."""
    return "succeeded" if changed else "lost-lease"


class _NothingOfItsOwn:
    """A target that keeps no versions of its own to remove: what it serves is the
    endpoint's live pointer."""

    def status(self, endpoint: Endpoint) -> dict[str, Any]:
        live = endpoint.live_version
        return {"live_version": live.version if live else None}

    def where(self, endpoint: Endpoint) -> str:
        return ""

    def remove(self, where: str, name: str) -> None:
        """Nothing to remove."""


class Builtin(_NothingOfItsOwn):
    """The registry's own serving processes load the live version themselves (and
    drop what is no longer live); a deployment checks the model loads (digest,
    sandboxed load and warm-up), then switches the live pointer they follow."""

    def plan(self, deployment: Deployment, version: ModelVersion) -> dict[str, Any]:
        return {
            "version": version.version,
            "sha256": version.artifact_sha256,
            "format": version.artifact_format,
        }

    def apply(
        self,
        deployment: Deployment,
        version: ModelVersion,
        plan: Any,
        log_line: LogLine,
    ) -> str:
        prechecks.checked_load(version, log_line)
        return _outcome(transitions.succeed(deployment))


class Webhook(_NothingOfItsOwn):
    """An external CI/CD system receives the deployment and reports its outcome on
    the status callback (``webhook_target.deployment_report``); it owns what it
    deployed."""

    def plan(self, deployment: Deployment, version: ModelVersion) -> dict[str, Any]:
        return webhook_target.webhook_payload(deployment, version)

    def apply(
        self,
        deployment: Deployment,
        version: ModelVersion,
        plan: Any,
        log_line: LogLine,
    ) -> str:
        return webhook_target.send_webhook(deployment, plan, log_line)


class Ray:
    """One Serve application per version on the endpoint's Ray cluster
    (``ray_target``)."""

    def plan(self, deployment: Deployment, version: ModelVersion) -> dict[str, Any]:
        return ray_target.plan(deployment.endpoint, version)

    def apply(
        self,
        deployment: Deployment,
        version: ModelVersion,
        plan: Any,
        log_line: LogLine,
    ) -> str:
        return _outcome(ray_target.ray_deploy(deployment, version, plan, log_line))

    def status(self, endpoint: Endpoint) -> dict[str, Any]:
        prefix = ray_target.app_name(endpoint, 0)[:-1]
        return {
            name: app
            for name, app in ray_target.status(endpoint).items()
            if name.startswith(prefix)
        }

    def where(self, endpoint: Endpoint) -> str:
        return endpoint.ray_dashboard

    def remove(self, where: str, name: str) -> None:
        ray_target.remove_all(where, name)


TARGETS: dict[str, DeployTarget] = {
    Target.BUILTIN: Builtin(),
    Target.WEBHOOK: Webhook(),
    Target.RAY: Ray(),
}


def of(endpoint: Endpoint) -> DeployTarget:
    return TARGETS[endpoint.target]


def where(endpoint: Endpoint) -> str:
    """Where the endpoint's target keeps its versions ('' when nowhere of its own)."""
    return of(endpoint).where(endpoint)


def remove_after_commit(kind: str, where: str, name: str) -> None:
    """Take endpoint ``name``'s versions off ``where`` (of target ``kind``) once the
    transaction that let go of them commits: a task, retried while the target is
    down."""
    if not where:
        return
    from common import doorbell
    from deployments.tasks import target_cleanup_task

    doorbell.ring_after_commit(target_cleanup_task, kind, where, name)
