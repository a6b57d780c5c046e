"""One thread per process that stops model runs at their deadline.

A run arms a deadline with a callback (for ONNX: set ``RunOptions.terminate``) and
disarms it when it returns. One thread and a heap of deadlines, rather than a timer
thread per run, keeps the cost of a request to a lock and a heap push.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable

_order = itertools.count()


class Watchdog:
    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[list] = []
        self._pid = 0

    def arm(self, seconds: float, fire: Callable[[], None]) -> list:
        """Call ``fire`` in ``seconds`` unless ``disarm``ed first; returns the handle."""
        entry = [time.monotonic() + seconds, next(_order), fire]
        with self._wake:
            if self._pid != os.getpid():  # first use, or a forked child
                self._pid, self._heap = os.getpid(), []
                threading.Thread(
                    target=self._run, daemon=True, name="model-watchdog"
                ).start()
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._wake.notify()
        return entry

    @staticmethod
    def disarm(entry: list) -> None:
        entry[2] = None

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                fire = heapq.heappop(self._heap)[2]
                if fire is not None:
                    fire()


watchdog = Watchdog()
