"""The embedded broker: kombu's file-system transport, without its message race.

kombu's transport creates a message file, then locks and writes it; its consumer
reads without the lock, so it can read an empty or half-written message, fail to
decode it and stop the worker (celery/kombu#1551). Here a message is written under
a temporary name and renamed into the queue folder (atomic on one filesystem), so a
consumer only ever sees whole messages; a file that still cannot be decoded is moved
to a ``quarantine`` folder with a log line instead of stopping the worker.

Settings select it with ``CELERY_BROKER_TRANSPORT`` for ``filesystem://`` URLs.
"""

from __future__ import annotations

import logging
import os
import uuid
from queue import Empty
from time import monotonic, sleep
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

INCOMING = ".incoming"
QUARANTINE = "quarantine"


class Channel(filesystem.Channel):
    """File-system channel whose messages appear whole or not at all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The folders exist once `registry_site.prepare` ran; a fresh one is made too.
        for folder in (
            self.data_folder_in,
            self.data_folder_out,
            self.processed_folder,
        ):
            os.makedirs(folder, exist_ok=True)
        os.makedirs(self.control_folder, exist_ok=True)

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        incoming = os.path.join(self.data_folder_out, INCOMING)
        os.makedirs(incoming, exist_ok=True)
        temporary = os.path.join(incoming, name)
        with open(temporary, "wb") as handle:
            handle.write(str_to_bytes(dumps(payload)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, os.path.join(self.data_folder_out, name))

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            taken = os.path.join(self._taken_folder(), name)
            try:
                # A rename claims the message: of two consumers only one succeeds.
                os.replace(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue
            try:
                with open(taken, "rb") as handle:
                    payload = handle.read()
                message = loads(bytes_to_str(payload))
            except (OSError, ValueError) as exc:
                self._quarantine(taken, name, exc)
                continue
            if self.store_processed:
                os.replace(taken, os.path.join(self.processed_folder, name))
            else:
                os.remove(taken)
            return message
        raise Empty()

    def _taken_folder(self) -> str:
        folder = os.path.join(self.data_folder_in, INCOMING, "taken")
        os.makedirs(folder, exist_ok=True)
        return folder

    def _quarantine(self, path: str, name: str, exc: Exception) -> None:
        folder = os.path.join(os.path.dirname(self.data_folder_in), QUARANTINE)
        os.makedirs(folder, exist_ok=True)
        try:
            os.replace(path, os.path.join(folder, name))
        except OSError:
            return
        log.error(
            "Quarantined undecodable broker message %s in %s: %s",
            name,
            folder,
            exc,
        )


class Transport(filesystem.Transport):
    """Polls every ``polling_interval`` while idle, and every ``busy_interval`` for
    ``busy_window`` seconds after a delivery. The worker runs one task at a time and
    acknowledges it when done, so the next message cannot be taken until then: with
    a fixed interval each message of a burst (an approval's events, then its
    deployment) waited a whole interval after the one before."""

    Channel = Channel
    busy_interval = 0.005
    busy_window = 2.0
    _delivered_at = float("-inf")

    def drain_events(  # type: ignore[override]
        self, connection: Any, timeout: float | None = None
    ) -> None:
        started = monotonic()
        cycle = self.cycle
        assert cycle is not None  # set when the connection opened
        while True:
            try:
                cycle.get(self._deliver, timeout=timeout)
            except Empty:
                now = monotonic()
                if timeout is not None and now - started >= timeout:
                    raise TimeoutError from None
                busy = now - self._delivered_at < self.busy_window
                interval = (
                    self.busy_interval if busy else (self.polling_interval or 1.0)
                )
                if timeout:
                    interval = min(interval, timeout)
                sleep(interval)
            else:
                self._delivered_at = monotonic()
                return


__all__ = ["Channel", "Transport"]
