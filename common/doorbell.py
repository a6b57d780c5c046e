"""Enqueue Celery tasks after commit without ever making a request wait on the broker.

The database is the source of truth and the broker only a doorbell: every task
enqueued here has a row that a periodic sweep re-enqueues if the message is lost.
So the publish happens on a small background thread after the transaction commits;
a broker that is down or frozen costs the request nothing.
"""

from __future__ import annotations

import atexit
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="doorbell")
atexit.register(_pool.shutdown, wait=True, cancel_futures=False)


def _publish(task: Any, args: tuple, countdown: float | None) -> None:
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:  # the sweep will find the row; nothing else to do here
        log.warning(
            "could not enqueue %s%r; the periodic sweep will",
            task.name,
            args,
            exc_info=True,
        )


def ring_after_commit(task: Any, *args: Any, countdown: float | None = None) -> None:
    """Publish ``task(*args)`` once the current transaction commits."""
    transaction.on_commit(lambda: _pool.submit(_publish, task, args, countdown))
