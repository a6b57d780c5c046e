"""A model served from a long-lived limited child process, for models the registry
does not trust as data (pickle-based files in a group whose admin allowed pickle):
their loading runs code, so it never happens in a web process.

``python -m modelformats serve PATH FORMAT`` loads the model once, answers one JSON
line with its input spec, then answers one JSON line per request line:
``{"inputs": rows}`` -> ``{"ok": true, "outputs": {...}}`` or ``{"ok": false,
"error": ..., "input": true|false}``. The child runs under the sandbox's limits
(memory, Landlock: the artifact, the Python install, a scratch folder, no TCP);
it keeps its scratch folder for its life and the parent removes it when it stops.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
import time
import weakref
from contextlib import ExitStack
from typing import IO, Any

import numpy as np

from modelformats import sandbox
from modelformats.base import LoadError, Trust
from modelformats.checks import load
from modelformats.predictor import (
    InputError,
    InputSpec,
    Predictor,
    PredictTimeout,
    jsonable,
)


class ChildPredictor(Predictor):
    """A ``Predictor`` whose model lives in a limited child: ``coerce`` runs here on
    the spec the child reported, ``predict`` is one round trip on the pipe.
    Requests are answered one at a time; a call over ``timeout`` seconds kills the
    child, which then answers no more (the serving layer loads it again)."""

    def __init__(
        self, path: str, fmt: str, *, trust: Trust, memory: int, timeout: float
    ):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._stack = ExitStack()
        child = self._stack.enter_context(
            sandbox.prepared(
                "modelformats",
                ["serve", path, fmt],
                files=[path],
                memory=memory,
                cpu_seconds=None,
            )
        )
        self.process = subprocess.Popen(
            child.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child.env,
            preexec_fn=child.preexec_fn,
        )
        self._finalizer = weakref.finalize(self, _stop, self.process, self._stack)
        try:
            self.process.stdin.write(  # type: ignore[union-attr]
                json.dumps({"trust": trust.as_json()}).encode() + b"\n"
            )
            self.process.stdin.flush()  # type: ignore[union-attr]
            hello = self._answer(timeout)
        except BaseException:
            self.close()
            raise
        if not hello.get("ok"):
            self.close()
            raise LoadError(hello.get("error", "the model process refused the model"))
        spec = hello["spec"]
        self.spec = InputSpec(spec["name"], np.dtype(spec["dtype"]), spec["shape"])

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stopped(self) -> bool:
        return self.process.poll() is not None

    def predict(
        self, batch: np.ndarray, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Ask the child; a call over ``timeout`` (the invocation's limit) stops the
        child and raises ``PredictTimeout``, one over the child's own limit a
        ``LoadError``."""
        line = json.dumps({"inputs": batch.tolist()}).encode() + b"\n"
        invocation = timeout is not None and timeout < self.timeout
        limit = timeout if timeout is not None and invocation else self.timeout
        with self._lock:
            if self.process.poll() is not None:
                raise LoadError("the model process has stopped")
            try:
                self.process.stdin.write(line)  # type: ignore[union-attr]
                self.process.stdin.flush()  # type: ignore[union-attr]
                answer = self._answer(limit)
            except _TooSlow as exc:
                self.close()
                if invocation:
                    raise PredictTimeout(limit) from exc
                raise LoadError(str(exc)) from exc
            except (OSError, LoadError):
                self.close()
                raise
        if answer.get("ok"):
            return dict(answer["outputs"])
        if answer.get("input"):
            raise InputError(answer.get("error", "inputs do not fit the model"))
        raise LoadError(answer.get("error", "the model could not predict"))

    def _answer(self, timeout: float) -> dict[str, Any]:
        out: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TooSlow(f"the model process took over {timeout:g} s")
            ready, _, _ = select.select([out], [], [], left)
            if ready:
                break
        line = out.readline()
        if not line:
            code = self.process.wait(timeout=5)
            raise LoadError(f"the model process died (exit code {code})")
        answer = json.loads(line)
        return answer if isinstance(answer, dict) else {}

    def close(self) -> None:
        """Stop the child and remove its scratch folder."""
        self._finalizer()


class _TooSlow(LoadError):
    """The child did not answer in time."""


def _stop(process: subprocess.Popen[bytes], stack: ExitStack) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
    stack.close()


def main(path: str, fmt: str) -> int:
    """The child: load, say the spec, then answer request lines until stdin ends."""
    stdin, stdout = sys.stdin.buffer, sys.stdout
    job = json.loads(stdin.readline() or b"{}")
    try:
        predictor = load(path, fmt, trust=Trust.from_json(job.get("trust") or {}))
    except MemoryError:
        _say(stdout, {"ok": False, "error": "the model needs more memory than allowed"})
        return 0
    except LoadError as exc:
        _say(stdout, {"ok": False, "error": str(exc)})
        return 0
    spec = predictor.spec
    _say(
        stdout,
        {
            "ok": True,
            "spec": {
                "name": spec.name,
                "dtype": np.dtype(spec.dtype).str,
                "shape": spec.shape,
            },
        },
    )
    for line in stdin:
        _say(stdout, _answer_one(predictor, line))
    return 0


def _answer_one(predictor: Predictor, line: bytes) -> dict[str, Any]:
    try:
        request = json.loads(line)
        batch = predictor.coerce(request["inputs"])
        outputs = predictor.predict(batch)
    except InputError as exc:
        return {"ok": False, "input": True, "error": str(exc)}
    except MemoryError:
        return {"ok": False, "error": "the model needs more memory than allowed"}
    except Exception as exc:
        return {"ok": False, "error": f"prediction failed: {type(exc).__name__}: {exc}"}
    return {"ok": True, "outputs": {k: jsonable(v) for k, v in outputs.items()}}


def _say(stdout: Any, answer: dict[str, Any]) -> None:
    stdout.write(json.dumps(answer) + "\n")
    stdout.flush()
