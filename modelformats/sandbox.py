"""Run a module in a child process with resource limits and a bare environment.

Used wherever untrusted model files are parsed or loaded at size (the format check of
large uploads, a deployment's load and warm-up). The child imports only what its
module needs and sees none of the service's environment, so none of its secrets:
whatever it must know comes on stdin.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    result: dict[str, Any] | None  # the child's last stdout line, as JSON
    returncode: int
    stderr_tail: str


def _limits(memory: int, cpu_seconds: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        os.setsid()

    return apply


def run(
    module: str, args: list[str], *, stdin: bytes = b"", timeout: float, memory: int
) -> Outcome:
    """``python -m module args`` with memory, CPU and wall-time limits.

    Raises ``subprocess.TimeoutExpired`` when the wall time runs out.
    """
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=env,
        preexec_fn=_limits(memory, int(timeout) + 1),
        check=False,
    )
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return Outcome(
        result if isinstance(result, dict) else None, proc.returncode, tail[0][:300]
    )
