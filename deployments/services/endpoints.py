"""Endpoints: creating, changing, deleting, and stopping one that has nothing to serve."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.roles import Actor, Role, has_role, require_role
from catalog.models import EventKind, ModelGroup
from catalog.services import event_record
from common import changes, outbound
from common.errors import Conflict, Invalid
from deployments.models import Endpoint, Target

DEPLOY_ROLES = (Role.DEPLOYER,)
RAY_FIELDS = (
    "ray_num_replicas",
    "ray_min_replicas",
    "ray_max_replicas",
    "ray_num_cpus",
    "ray_dashboard_url",
    "ray_serve_url",
)
ENDPOINT_FIELDS = (
    "auto_deploy",
    "target",
    "webhook_url",
    "webhook_secret",
    "webhook_timeout",
    *RAY_FIELDS,
)


def _check_target(endpoint: Endpoint) -> None:
    if endpoint.target not in Target.values:
        raise Invalid.on("target", "Use builtin, webhook or ray.")
    if endpoint.target == Target.WEBHOOK:
        if not endpoint.webhook_url:
            message = "Required for the webhook target."
            raise Invalid.on("webhook_url", message)
        if len(endpoint.webhook_secret) < 16:
            message = "Required for the webhook target: at least 16 characters."
            raise Invalid.on("webhook_secret", message)
        outbound.validate_url(endpoint.webhook_url, "webhook_url")
    if not 10 <= endpoint.webhook_timeout <= 86400:
        message = "Between 10 and 86400 seconds."
        raise Invalid.on("webhook_timeout", message)
    _check_ray(endpoint)


def _check_ray(endpoint: Endpoint) -> None:
    if not 1 <= endpoint.ray_num_replicas <= 100:
        raise Invalid.on("ray_num_replicas", "Between 1 and 100.")
    if not 0 <= endpoint.ray_min_replicas <= 100:
        raise Invalid.on("ray_min_replicas", "Between 0 and 100.")
    top = endpoint.ray_max_replicas
    if top is not None and not max(1, endpoint.ray_min_replicas) <= top <= 100:
        message = "Between ray_min_replicas (at least 1) and 100."
        raise Invalid.on("ray_max_replicas", message)
    if not 0 < endpoint.ray_num_cpus <= 64:
        raise Invalid.on("ray_num_cpus", "More than 0, at most 64.")
    configured = {
        "ray_dashboard_url": settings.REGISTRY_RAY_DASHBOARD_URL,
        "ray_serve_url": settings.REGISTRY_RAY_SERVE_URL,
    }
    for field, default in configured.items():
        value = getattr(endpoint, field)
        if value and not value.startswith(("http://", "https://")):
            raise Invalid.on(field, "An http(s) URL.")
        if value and value.rstrip("/") != default.rstrip("/"):
            # An address of the endpoint's own: an outbound call like a webhook's.
            outbound.validate_url(value, field)


def _placed(endpoint: Endpoint) -> tuple[str, str]:
    """The endpoint's target and where it keeps the endpoint's versions."""
    from deployments.services import targets

    return endpoint.target, targets.where(endpoint)


def _release(placed: tuple[str, str], name: str) -> None:
    """Take the endpoint's versions off that place once this commits."""
    from deployments.services import targets

    targets.remove_after_commit(*placed, name)


@transaction.atomic
def endpoint_create(
    *,
    actor: Actor,
    name: str,
    group: ModelGroup,
    auto_deploy: bool = True,
    target: str = Target.BUILTIN,
    webhook_url: str = "",
    webhook_secret: str = "",
    webhook_timeout: int = 600,
    **ray: Any,
) -> Endpoint:
    """Create an endpoint serving ``group`` (deployers and admins)."""
    actor = require_role(actor, *DEPLOY_ROLES, action="create endpoints")
    endpoint = Endpoint(
        name=name,
        group=group,
        auto_deploy=auto_deploy,
        target=target,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        webhook_timeout=webhook_timeout,
        created_by=actor,
    )
    unknown = sorted(set(ray) - set(RAY_FIELDS))
    if unknown:
        raise Invalid.on(unknown[0], "Not an endpoint setting.")
    for field, value in ray.items():
        setattr(endpoint, field, value)
    _check_target(endpoint)
    endpoint.full_clean(exclude=["created_by", "group"], validate_unique=False)
    taken = Conflict(
        f"An endpoint named {name!r} already exists.",
        fields={"name": "An endpoint with this name already exists."},
    )
    if Endpoint.objects.filter(name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError as exc:  # a concurrent create of the same name won
        raise taken from exc
    event_record(
        EventKind.ENDPOINT_CREATED,
        actor=actor,
        group=group,
        payload={"endpoint": name, "target": target, "auto_deploy": auto_deploy},
    )
    return endpoint


@transaction.atomic
def endpoint_update(*, actor: Actor, endpoint: Endpoint, **fields: Any) -> Endpoint:
    """Change an endpoint; its webhook URL and secret only by its owner or an admin."""
    require_role(actor, *DEPLOY_ROLES, action="change endpoints")
    unknown = sorted(set(fields) - set(ENDPOINT_FIELDS))
    if unknown:
        raise Invalid.on(unknown[0], "Cannot be changed.")
    outbound.check_retarget(
        fields,
        ("webhook_url", "webhook_secret"),
        current_url=endpoint.webhook_url,
        may_retarget=actor.pk == endpoint.created_by_id or has_role(actor, Role.ADMIN),
        what="endpoint",
    )
    was = _placed(endpoint)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    _check_target(endpoint)
    endpoint.save()
    if was != _placed(endpoint):
        _release(was, endpoint.name)
    changes.announce()
    event_record(
        EventKind.ENDPOINT_UPDATED,
        actor=actor,
        group=endpoint.group,
        payload={
            "endpoint": endpoint.name,
            "fields": sorted(k for k in fields if k != "webhook_secret"),
        },
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: Actor, endpoint: Endpoint) -> None:
    """Delete an endpoint with its deployments and their logs."""
    require_role(actor, *DEPLOY_ROLES, action="delete endpoints")
    event_record(
        EventKind.ENDPOINT_DELETED,
        actor=actor,
        group=endpoint.group,
        payload={"endpoint": endpoint.name},
    )
    _release(_placed(endpoint), endpoint.name)
    endpoint.delete()
    changes.announce()


def endpoint_stop(*, endpoint: Endpoint, message: str) -> None:
    """Serve nothing on ``endpoint`` any more, saying why (inside a transaction)."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        live_version=None, live_since=None, serving_message=message
    )
    _release(_placed(endpoint), endpoint.name)
    changes.announce()
    event_record(
        EventKind.ENDPOINT_STOPPED,
        actor=None,
        group=endpoint.group,
        payload={"endpoint": endpoint.name, "message": message},
    )
