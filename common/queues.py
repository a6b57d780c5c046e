"""The Celery queues, named from one prefix (``CELERY_QUEUE``, default ``registry``).

Deployments, artifact checks and evaluations, webhook deliveries and e-mail each have a queue, so a
retry storm of failing webhook deliveries, or a long check, never waits in front of
a deployment. The default queue
carries the short control work (the outbox fan-out, the periodic sweeps).
"""

from __future__ import annotations

DEFAULT = "registry"
LANES = ("deployments", "checks", "webhooks", "email")
# What one worker consuming everything takes, in order: deployments first.
ALL: tuple[str | None, ...] = ("deployments", None, "checks", "email", "webhooks")

# Task name prefix → lane; every other task goes to the default queue.
ROUTES = {
    # A deployment's check done ahead of the approval: first, as the most specific.
    "deployments.precheck": "checks",
    "deployments.": "deployments",
    "catalog.check_": "checks",  # the deferred check of a large artifact
    "catalog.import_": "checks",  # copying and checking an imported artifact
    "catalog.evaluate_": "checks",  # running a version on its evaluation sets
    "webhooks.": "webhooks",
    "approvals.": "email",
}


def queue(prefix: str, lane: str | None = None) -> str:
    """The queue of ``lane`` (None: the default queue)."""
    if lane is None:
        return prefix
    if lane not in LANES:
        raise ValueError(f"unknown lane {lane!r}: one of {', '.join(LANES)}")
    return f"{prefix}.{lane}"


def routes(prefix: str) -> dict[str, dict[str, str]]:
    """``CELERY_TASK_ROUTES``: each task family to its lane's queue."""
    return {
        f"{start}*": {"queue": queue(prefix, lane)} for start, lane in ROUTES.items()
    }


def consumed(prefix: str, lanes: tuple[str | None, ...]) -> str:
    """The ``celery worker -Q`` argument for these lanes, in this order."""
    return ",".join(queue(prefix, lane) for lane in lanes)
