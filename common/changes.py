"""Tell every serving process at once that something it caches has changed.

A live-version switch or a token revocation calls ``announce()``; after the
transaction commits it touches a small file in the data folder (every process on this
machine sees it within ``REGISTRY_SERVING_BELL_INTERVAL`` seconds) and, when Redis is
configured (``REGISTRY_CACHE_URL``), publishes on a channel that serving processes on
other machines subscribe to. The processes' periodic checks stay as the fallback: a
lost message only delays a change to the next check.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
CHANNEL = "registry:serving-changes"


def channel() -> str:
    """Pub/sub channels are server-wide: one per registry (its database)."""
    database = settings.DATABASES["default"]
    return f"{CHANNEL}:{database.get('HOST', '')}/{database.get('NAME', '')}"


def bell_path() -> Path:
    return Path(settings.DATA_DIR) / "serving" / "changes"


def _redis_url() -> str:
    url = str(getattr(settings, "CACHE_URL", "") or "")
    return url if url.startswith(("redis://", "rediss://", "unix://")) else ""


def ring() -> None:
    """Ring now (outside any transaction)."""
    path = bell_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        now = time.time_ns()
        os.utime(path, ns=(now, now))
    except OSError:
        log.warning("could not ring the serving bell at %s", path, exc_info=True)
    url = _redis_url()
    if url:
        threading.Thread(target=_publish, args=(url,), daemon=True).start()


def _publish(url: str) -> None:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.publish(channel(), str(os.getpid()))
        client.close()
    except Exception:  # the periodic check will notice
        log.warning("could not publish a serving change", exc_info=True)


def announce() -> None:
    """Ring once the current transaction commits."""
    transaction.on_commit(ring)


class Listener:
    """A daemon thread calling ``callback`` when the bell rings (file or Redis)."""

    def __init__(self, callback: Callable[[], Any], interval: float) -> None:
        self.callback, self.interval = callback, interval
        self.seen = self._stamp()
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    @staticmethod
    def _stamp() -> int:
        try:
            return bell_path().stat().st_mtime_ns
        except OSError:
            return 0

    def start(self) -> None:
        threading.Thread(target=self._watch, daemon=True, name="serving-bell").start()
        url = _redis_url()
        if url:
            threading.Thread(
                target=self._subscribe, args=(url,), daemon=True, name="serving-sub"
            ).start()

    def _call(self) -> None:
        try:
            self.callback()
        except Exception:
            log.exception("serving: acting on a change failed")

    def _watch(self) -> None:
        while not self.stopped.wait(self.interval):
            stamp = self._stamp()
            if stamp != self.seen:
                self.seen = stamp
                self._call()

    def _subscribe(self, url: str) -> None:
        import redis

        backoff = 1.0
        while not self.stopped.is_set():
            with contextlib.suppress(Exception):
                client = redis.Redis.from_url(url, socket_connect_timeout=2)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel())
                backoff = 1.0
                while not self.stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._call()
                pubsub.close()
                client.close()
            if self.stopped.wait(backoff):
                return
            backoff = min(backoff * 2, 30.0)
