"""Run a module in a child process with resource limits and a bare environment.

Used wherever untrusted model files are parsed or loaded at size (the format check of
large uploads, a deployment's load and warm-up). The child imports only what its
module needs and sees none of the service's environment, so none of its secrets:
whatever it must know comes on stdin. On Linux with Landlock (or bubblewrap where
Landlock is missing) it can also read only the files it was given, the Python
install and a private scratch folder, and open no TCP connection
(``modelformats.confine``).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from modelformats import confine

# Folders a numeric library reads to learn the machine (CPU count and caches).
MACHINE_READ = ("/sys/devices/system/cpu", "/proc/cpuinfo", "/proc/meminfo")


@dataclass
class Outcome:
    result: dict[str, Any] | None  # the child's last stdout line, as JSON
    returncode: int
    stderr_tail: str


def _limits(
    memory: int, cpu_seconds: int | None, ruleset: int | None
) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if cpu_seconds is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        os.setsid()
        if ruleset is not None:
            confine.restrict(ruleset)

    return apply


@dataclass
class Child:
    """How to start one limited child: its environment and what runs before exec."""

    env: dict[str, str]
    preexec_fn: Callable[[], None]
    command: list[str]


@contextlib.contextmanager
def prepared(
    module: str,
    args: list[str],
    *,
    files: list[str],
    memory: int,
    cpu_seconds: int | None,
    read: list[str] | None = None,
) -> Iterator[Child]:
    """The child's setup for as long as the block runs: a private scratch folder
    (its ``TMPDIR`` and ``HOME``, removed afterwards) and the confinement
    ``confine.method()`` names (a Landlock ruleset, or a bubblewrap command line)
    that lets it read ``files``, the Python install and the scratch folder only.
    Raises ``OSError`` where that confinement is not available."""
    scratch = tempfile.mkdtemp(prefix="modelchild-")
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "TMPDIR": scratch,
        "HOME": scratch,
    }
    ruleset = None
    command = [sys.executable, "-m", module, *args]
    try:
        how = confine.method()
        if not confine.usable(how):
            raise OSError(
                f"the model child's confinement {how!r} (REGISTRY_SANDBOX) is not "
                "available on this machine"
            )
        allowed = {
            "read": [
                *confine.python_folders(),
                *confine.SYSTEM_READ,
                *MACHINE_READ,
                *(read or []),
            ],
            "read_files": files,
            "scratch": [scratch],
        }
        if how == "landlock":
            ruleset = confine.ruleset(**allowed)
        elif how == "bubblewrap":
            command = confine.wrapped(command, **allowed)
        yield Child(env, _limits(memory, cpu_seconds, ruleset), command)
    finally:
        if ruleset is not None:
            os.close(ruleset)
        shutil.rmtree(scratch, ignore_errors=True)


def run(
    module: str,
    args: list[str],
    *,
    stdin: bytes = b"",
    timeout: float,
    memory: int,
    files: list[str] | None = None,
    read: list[str] | None = None,
) -> Outcome:
    """``python -m module args`` with memory, CPU and wall-time limits, reading only
    ``files`` and below the folders ``read`` besides its own code (where Landlock
    is available).

    Raises ``subprocess.TimeoutExpired`` when the wall time runs out.
    """
    with prepared(
        module,
        args,
        files=files or [],
        read=read,
        memory=memory,
        cpu_seconds=int(timeout) + 1,
    ) as child:
        proc = subprocess.run(
            child.command,
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=child.env,
            preexec_fn=child.preexec_fn,
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
