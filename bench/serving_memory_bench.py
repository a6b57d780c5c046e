"""Serving memory: RSS of one serving process with many live endpoints, with and
without ``REGISTRY_SERVING_MAX_MODELS``.

    .venv/bin/python bench/serving_memory_bench.py

Makes a throw-away data folder and SQLite database, registers ``BENCH_ENDPOINTS``
(50) groups of one ONNX model each (a dense network with about 4 MiB of weights,
different per group), approves them and deploys each on its own endpoint in-process.
Then starts gunicorn as `make run` does (one gthread worker, 8 threads) twice: with no
cap, and with ``REGISTRY_SERVING_MAX_MODELS=BENCH_CAP`` (8). Each time it invokes
every endpoint in turn, twice over, and reads the worker's resident memory (VmRSS)
before the first invocation and after the last, and the invocation latencies (with a
cap smaller than the endpoints, every request in this round-robin loads its model
again: the worst case). Prints a table; everything it creates is removed on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_WORKERS", "1")  # one process: its RSS is the figure
from bench.serving_bench import pct, role_users, serve, stop  # noqa: E402

ENDPOINTS = int(os.environ.get("BENCH_ENDPOINTS", "50"))
CAP = os.environ.get("BENCH_CAP", "8")
ROW = [[5.1, 3.5, 1.4, 0.2]]


def dense_onnx(seed: int, hidden: int = 1024) -> bytes:
    """4 -> hidden -> hidden -> 3: about 4 MiB of float32 weights."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {
        "W1": rng.standard_normal((4, hidden)),
        "W2": rng.standard_normal((hidden, hidden)) / hidden,
        "W3": rng.standard_normal((hidden, 3)),
    }
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W1"], ["h1"]),
            helper.make_node("Relu", ["h1"], ["r1"]),
            helper.make_node("MatMul", ["r1", "W2"], ["h2"]),
            helper.make_node("Relu", ["h2"], ["r2"]),
            helper.make_node("MatMul", ["r2", "W3"], ["Y"]),
        ],
        "dense",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])],
        [numpy_helper.from_array(w.astype(np.float32), n) for n, w in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def seed(env: dict[str, str]) -> tuple[str, int]:
    """ENDPOINTS groups, each with one approved, deployed version; a viewer's token
    and the size of one artifact."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.files.base import ContentFile

    from accounts.services import token_issue
    from approvals.services import review_submit
    from catalog import outbox, services
    from catalog.models import Event
    from deployments import services as deploy
    from deployments.models import Deployment

    users = role_users()
    size = 0
    for number in range(ENDPOINTS):
        content = dense_onnx(number)
        size = len(content)
        group = services.group_create(actor=users["contributor"], name=f"g{number}")
        deploy.endpoint_create(actor=users["deployer"], name=f"e{number}", group=group)
        version = services.version_register(
            actor=users["contributor"],
            group=group,
            artifact=ContentFile(content, name="dense.onnx"),
            sample_payload={"inputs": ROW},
        )
        review_submit(actor=users["reviewer"], version=version, decision="approve")
        event = Event.objects.get(kind="version.approved", version_id=version.pk)
        outbox.dispatch(event.pk)
        deploy.deployment_run(Deployment.objects.get(version=version).pk)
    return token_issue(user=users["viewer"])[1], size


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def run(env: dict[str, str], log: Path, token: str, cap: str) -> dict[str, float]:
    proc, port = serve(
        "registry_site.wsgi:application",
        {**env, "REGISTRY_SERVING_MAX_MODELS": cap},
        log,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        with requests.Session() as http:
            http.get(f"{url}/healthz", timeout=30)
            worker = worker_pid(proc.pid)
            before = rss_kib(worker)
            took = []
            for _ in range(2):
                for number in range(ENDPOINTS):
                    started = time.perf_counter()
                    answer = http.post(
                        f"{url}/api/v1/endpoints/e{number}/invocations",
                        json={"inputs": ROW},
                        headers={"Authorization": f"Token {token}"},
                        timeout=60,
                    )
                    took.append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()
            after = rss_kib(worker)
    finally:
        stop(proc)
    return {
        "before": before,
        "after": after,
        "p50": pct(took, 50),
        "p99": pct(took, 99),
    }


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="registry-memory-bench."))
    data = work / "data"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{data}/registry.sqlite3",
        "REGISTRY_DATA_DIR": str(data),
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "REGISTRY_CACHE_URL": "",
        # Checked while registering (the models are just over the inline default).
        "REGISTRY_INLINE_CHECK_MAX": "64MiB",
    }
    env.pop("REGISTRY_PUBLIC_URL", None)
    try:
        for command in (
            ["-m", "registry_site.prepare"],
            ["manage.py", "migrate", "-v0"],
        ):
            subprocess.run(
                [sys.executable, *command],
                env=env,
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        started = time.monotonic()
        token, size = seed(env)
        seeded = time.monotonic() - started
        log = work / "gunicorn.log"
        results = {
            "no cap": run(env, log, token, "0"),
            f"REGISTRY_SERVING_MAX_MODELS={CAP}": run(env, log, token, CAP),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"\nServing memory: {ENDPOINTS} live endpoints, one ONNX model each "
        f"({size / 1024**2:.1f} MiB), one gunicorn gthread worker; seeded in "
        f"{seeded:.0f} s; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
        f"({os.cpu_count()} cores)"
    )
    print(f"{'setting':34} {'RSS before':>11} {'RSS after':>10} {'p50':>9} {'p99':>9}")
    for name, r in results.items():
        print(
            f"{name:34} {r['before'] / 1024:>7.0f} MiB {r['after'] / 1024:>6.0f} MiB "
            f"{r['p50']:>6.2f} ms {r['p99']:>6.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
