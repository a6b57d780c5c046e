"""The same checks in a child process with memory, CPU and time limits and none of
the service's secrets: ``python -m modelformats inspect|load PATH [FORMAT]``, with
the job (trust, warm-up payload) as JSON on stdin and the answer as one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from modelformats import sandbox
from modelformats.base import ArtifactRefused, LoadError, Trust
from modelformats.batch import predict_table
from modelformats.checks import inspect, load_and_warm


def inspect_isolated(path: str, *, trust: Trust, timeout: int = 300) -> str:
    """``inspect`` in a limited child process."""
    size = os.path.getsize(path)
    memory = max(4 * size + 2 * 1024**3, 3 * 1024**3)
    job = json.dumps({"trust": trust.as_json()}).encode()
    try:
        outcome = sandbox.run(
            "modelformats",
            ["inspect", path],
            stdin=job,
            timeout=timeout,
            memory=memory,
            files=[path],
        )
    except subprocess.TimeoutExpired as exc:
        raise ArtifactRefused(f"Checking the artifact took over {timeout} s.") from exc
    result = outcome.result
    if result is None:
        raise ArtifactRefused(
            f"Checking the artifact failed (exit code {outcome.returncode})."
        )
    if result.get("ok"):
        return str(result["format"])
    raise ArtifactRefused(
        result.get("message", "refused"), detected=result.get("detected")
    )


def _run_job(
    command: str,
    path: str,
    fmt: str,
    job: dict[str, Any],
    *,
    timeout: float,
    memory: int,
    too_slow: str,
    died: str,
    refused: str,
) -> dict[str, Any]:
    """Run ``python -m modelformats COMMAND PATH FMT`` on ``job`` in a limited child;
    its answer, or a ``LoadError`` saying what went wrong (``too_slow`` and ``died``
    are formatted with the limits and the child's exit)."""
    try:
        outcome = sandbox.run(
            "modelformats",
            [command, path, fmt],
            stdin=json.dumps(job).encode(),
            timeout=timeout,
            memory=memory,
            files=[path],
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(too_slow.format(timeout=timeout)) from exc
    result = outcome.result
    if result is None:
        raise LoadError(
            died.format(
                code=outcome.returncode,
                mib=memory // 1024**2,
                tail=outcome.stderr_tail,
            ).strip()
        )
    if not result.get("ok"):
        raise LoadError(result.get("error", refused))
    return result


def load_and_warm_isolated(
    path: str,
    fmt: str,
    *,
    trust: Trust,
    payload: Any,
    declared: list[int | None] | None = None,
    timeout: float,
    memory: int,
) -> dict[str, Any]:
    """``load_and_warm`` in a limited child process."""
    job = {"trust": trust.as_json(), "payload": payload, "declared": declared}
    return _run_job(
        "load",
        path,
        fmt,
        job,
        timeout=timeout,
        memory=memory,
        too_slow="loading and warming the model took over {timeout:g} s "
        "(the loader's time limit)",
        died="the loader process died (exit code {code}) {tail}",
        refused="the loader refused the model",
    )["report"]


def predict_isolated(
    path: str,
    fmt: str,
    *,
    trust: Trust,
    columns: list[str],
    rows: list[list[float]],
    timeout: float,
    memory: int,
) -> dict[str, Any]:
    """``predict_table`` in a limited child process; raises ``LoadError`` with a
    readable reason (a crash, the time or memory limit, columns that do not fit)."""
    job = {"trust": trust.as_json(), "columns": columns, "rows": rows}
    return _run_job(
        "predict",
        path,
        fmt,
        job,
        timeout=timeout,
        memory=memory,
        too_slow="predicting the evaluation set took over {timeout:g} s "
        "(the time limit)",
        died="the model process died (exit code {code}, memory limit {mib} MiB): "
        "{tail}",
        refused="the model could not predict",
    )["answer"]


def main(argv: list[str]) -> int:
    """The child: answer one job as a JSON line on stdout (``serve``: many, see
    ``modelformats.served``)."""
    if argv[0] == "serve":
        from modelformats import served

        return served.main(argv[1], argv[2])
    job = json.loads(sys.stdin.read() or "{}")
    trust = Trust.from_json(job.get("trust") or {})
    if argv[0] == "inspect":
        answer = _inspect_answer(argv[1], trust)
    elif argv[0] == "predict":
        answer = _predict_answer(argv[1], argv[2], trust, job)
    else:
        answer = _load_answer(argv[1], argv[2], trust, job)
    print(json.dumps(answer))
    return 0


def _inspect_answer(path: str, trust: Trust) -> dict[str, Any]:
    try:
        return {"ok": True, "format": inspect(path, trust=trust)}
    except ArtifactRefused as exc:
        return {"ok": False, "message": exc.message, "detected": exc.detected}
    except MemoryError:
        return {"ok": False, "message": "Checking the artifact ran out of memory."}


def _load_answer(
    path: str, fmt: str, trust: Trust, job: dict[str, Any]
) -> dict[str, Any]:
    try:
        report = load_and_warm(
            path,
            fmt,
            trust=trust,
            payload=job.get("payload"),
            declared=job.get("declared"),
        )
    except MemoryError:
        return {"ok": False, "error": "the model needs more memory than allowed"}
    except LoadError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "report": report}


def _predict_answer(
    path: str, fmt: str, trust: Trust, job: dict[str, Any]
) -> dict[str, Any]:
    try:
        answer = predict_table(
            path, fmt, trust=trust, columns=job["columns"], rows=job["rows"]
        )
    except MemoryError:
        return {"ok": False, "error": "the model needs more memory than allowed"}
    except LoadError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "answer": answer}
