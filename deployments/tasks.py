"""Celery entry points of deployments: thin adapters around the services."""

from typing import Any

from celery import shared_task


@shared_task(
    name="deployments.deploy",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deploy_task(deployment_id: int, **_: object) -> str:
    from deployments import services

    return services.deployment_run(deployment_id)


@shared_task(
    name="deployments.precheck",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def precheck_task(version_id: int, **_: object) -> str:
    from deployments.services import prechecks

    return prechecks.version_precheck(version_id)


@shared_task(
    name="deployments.target_cleanup", bind=True, acks_late=True, ignore_result=True
)
def target_cleanup_task(
    self: Any, kind: str, where: str, name: str, **_: object
) -> None:
    """Take endpoint ``name``'s versions off ``where`` (``targets.remove``)."""
    from deployments import backends
    from deployments.services import targets

    try:
        targets.TARGETS[kind].remove(where, name)
    except backends.TransientError as exc:  # the target is down: try again later
        retries = self.request.retries
        raise self.retry(exc=exc, countdown=5 * 2**retries, max_retries=8) from exc


@shared_task(
    name="deployments.ray_cleanup", bind=True, acks_late=True, ignore_result=True
)
def ray_cleanup_task(self: Any, address: str, name: str, **_: object) -> None:
    """As sent before ``target_cleanup``: still taken from the queue."""
    target_cleanup_task.run("ray", address, name)


@shared_task(name="deployments.reconcile", ignore_result=True)
def reconcile_task(**_: object) -> dict[str, int]:
    from deployments import services

    return services.reconcile()


@shared_task(name="deployments.heartbeat", ignore_result=True)
def heartbeat_task(**_: object) -> None:
    from deployments import services

    services.heartbeat_record()
