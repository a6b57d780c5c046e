"""Endpoints and deployments: requesting, running, switching, rolling back.

One module per sub-domain; every status change goes through ``transitions``.
Callers use ``from deployments import services`` and the names below.
"""

from deployments.services.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_stop,
    endpoint_update,
)
from deployments.services.heartbeat import heartbeat_record
from deployments.services.reconciler import reconcile
from deployments.services.requests import (
    deployment_request,
    deployment_rollback,
    on_version_approved,
    on_version_rejected,
    rollback_target,
)
from deployments.services.runs import deployment_run
from deployments.services.webhook_target import deployment_report, webhook_payload

__all__ = [
    "deployment_report",
    "deployment_request",
    "deployment_rollback",
    "deployment_run",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_stop",
    "endpoint_update",
    "heartbeat_record",
    "on_version_approved",
    "on_version_rejected",
    "reconcile",
    "rollback_target",
    "webhook_payload",
]
