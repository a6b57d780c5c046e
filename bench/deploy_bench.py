"""Approvals and deployments benchmark on PostgreSQL and Redis, through HTTP.

    .venv/bin/python bench/deploy_bench.py

Creates a throw-away database (registry_deploy_bench) and data folder, starts gunicorn
(gthread, 2 workers) and a Celery worker on Redis, and measures:
  - submitting a review (approve, with its event rows), p50 (target <= 15 ms);
  - from an approval's commit to the endpoint answering with the new version, small
    ONNX model (target p50 <= 1.5 s);
  - invocation of the iris ONNX model: p50 over calling onnxruntime in-process
    (target overhead <= 2 ms), on a kept-alive connection and on fresh ones, and
    requests/s with 8 concurrent clients.
Everything it creates is removed on exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from registry_site.launcher import worker_command
from registry_site.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DB = "registry_deploy_bench"
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
SAMPLE = [[5.1, 3.5, 1.4, 0.2]]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
        check=True,
        capture_output=True,
    )


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(n_versions: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.files.base import ContentFile

    from accounts.services import token_issue
    from catalog import services
    from deployments import services as deploy
    from tests import models as real_models

    users = {}
    for role in ("contributor", "reviewer", "deployer", "viewer"):
        user = get_user_model().objects.create_user(username=f"bench-{role}")
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        users[role] = user
    content = real_models.iris_onnx()
    deployed = services.group_create(actor=users["contributor"], name="deployed")
    reviewed = services.group_create(actor=users["contributor"], name="reviewed")
    for group, count in ((deployed, 21), (reviewed, n_versions)):
        for _ in range(count):
            services.version_register(
                actor=users["contributor"],
                group=group,
                artifact=ContentFile(content, name="iris.onnx"),
                sample_payload={"inputs": SAMPLE},
            )
    deploy.endpoint_create(actor=users["deployer"], name="iris-bench", group=deployed)
    tokens = {role: token_issue(user=user)[1] for role, user in users.items()}
    return {"tokens": tokens, "onnx": content}


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def bench_reviews(url: str, token: str, first: int, last: int) -> list[float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    times = []
    for number in range(first, last + 1):
        start = time.perf_counter()
        response = session.post(
            f"{url}/api/v1/model-groups/reviewed/versions/{number}/reviews/",
            json={"decision": "approve", "comment": "ok"},
        )
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 201, response.text
    return times[5:]  # the first requests warm the processes


def invoke_session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def bench_approval_to_serving(
    url: str, reviewer: str, viewer: str, count: int
) -> list[float]:
    approver, caller = invoke_session(reviewer), invoke_session(viewer)
    invoke = f"{url}/api/v1/endpoints/iris-bench/invocations"
    latencies = []
    for number in range(1, count + 1):
        response = approver.post(
            f"{url}/api/v1/model-groups/deployed/versions/{number}/reviews/",
            json={"decision": "approve"},
        )
        committed = time.perf_counter()
        assert response.status_code == 201, response.text
        deadline = committed + 30
        while time.perf_counter() < deadline:
            answer = caller.post(invoke, json={"inputs": SAMPLE})
            if answer.headers.get("X-Model-Version") == str(number):
                latencies.append(time.perf_counter() - committed)
                break
            time.sleep(0.01)
        else:
            raise SystemExit(f"v{number} never served")
    return latencies


def direct_onnx(content: bytes, rounds: int = 3000) -> list[float]:
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        content, sess_options=options, providers=["CPUExecutionProvider"]
    )
    batch = np.asarray(SAMPLE, dtype=np.float32)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        session.run(None, {"X": batch})
        times.append((time.perf_counter() - start) * 1000)
    return times[100:]


def bench_invocation(url: str, token: str, rounds: int, fresh: bool) -> list[float]:
    invoke = f"{url}/api/v1/endpoints/iris-bench/invocations"
    session = invoke_session(token)
    times = []
    for _ in range(rounds):
        if fresh:
            session = invoke_session(token)
        start = time.perf_counter()
        response = session.post(invoke, json={"inputs": SAMPLE})
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return times[50:]


def throughput(url: str, token: str, clients: int, seconds: float) -> tuple[float, int]:
    invoke = f"{url}/api/v1/endpoints/iris-bench/invocations"
    counts = [0] * clients
    errors = [0]
    stop_at = time.monotonic() + seconds

    def run(index: int) -> None:
        session = invoke_session(token)
        while time.monotonic() < stop_at:
            response = session.post(invoke, json={"inputs": SAMPLE})
            if response.status_code == 200:
                counts[index] += 1
            else:
                errors[0] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds, errors[0]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="registry-deploy-bench."))
    database_url = f"{PG}/{DB}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": REDIS,
        "CELERY_QUEUE": f"deploy-bench-{os.getpid()}",
        "REGISTRY_DATA_DIR": str(work / "data"),
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "false",
        "REGISTRY_SERVING_REFRESH": os.environ.get("REGISTRY_SERVING_REFRESH", "0.5"),
    }
    prepare(work / "data")
    procs: list[subprocess.Popen] = []
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        setup_django(env)
        state = seed(n_versions=205)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        connection.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "registry_site.wsgi:application",
                    "--worker-class",
                    "gthread",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--bind",
                    f"127.0.0.1:{port}",
                ],
                env,
                work / "gunicorn.log",
            )
        )
        wait_http(url)
        tokens = state["tokens"]
        # Reviews alone, then with the worker busy dispatching what they cause.
        quiet = bench_reviews(url, tokens["reviewer"], 1, 105)
        procs.append(
            start(
                worker_command(str(work / "beat"), environ=env),
                env,
                work / "worker.log",
            )
        )
        time.sleep(3)  # let the worker connect
        reviews = bench_reviews(url, tokens["reviewer"], 106, 205)
        switch = bench_approval_to_serving(
            url, tokens["reviewer"], tokens["viewer"], 21
        )
        direct = direct_onnx(state["onnx"])
        kept = bench_invocation(url, tokens["viewer"], 1500, fresh=False)
        fresh = bench_invocation(url, tokens["viewer"], 300, fresh=True)
        rps, errors = throughput(url, tokens["viewer"], 8, 10.0)
    finally:
        for proc in procs:
            stop(proc)
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)

    overhead = statistics.median(kept) - statistics.median(direct)
    rows = [
        (
            "submit a review, worker idle",
            f"p50 {pct(quiet, 50):.1f} ms, p95 {pct(quiet, 95):.1f} ms (n={len(quiet)})",
            "p50 <= 15 ms",
            pct(quiet, 50) <= 15,
        ),
        (
            "submit a review, worker busy with them",
            f"p50 {pct(reviews, 50):.1f} ms, "
            f"p95 {pct(reviews, 95):.1f} ms (n={len(reviews)})",
            "p50 <= 15 ms",
            pct(reviews, 50) <= 15,
        ),
        (
            "approval commit -> endpoint serves it",
            f"p50 {pct(switch, 50):.2f} s, "
            f"p95 {pct(switch, 95):.2f} s (n={len(switch)})",
            "p50 <= 1.5 s",
            pct(switch, 50) <= 1.5,
        ),
        (
            "onnxruntime in-process, 1 row",
            f"p50 {statistics.median(direct) * 1000:.0f} us",
            "",
            None,
        ),
        (
            "invocation, kept-alive connection",
            f"p50 {pct(kept, 50):.2f} ms, p95 {pct(kept, 95):.2f} ms",
            "",
            None,
        ),
        (
            "invocation overhead over in-process",
            f"p50 {overhead:.2f} ms",
            "<= 2 ms",
            overhead <= 2,
        ),
        ("invocation, fresh connection each", f"p50 {pct(fresh, 50):.2f} ms", "", None),
        (
            "invocation, 8 concurrent clients",
            f"{rps:.0f} req/s, {errors} errors",
            "",
            None,
        ),
    ]
    print(
        "\nDeployments benchmark (PostgreSQL, Redis, gunicorn gthread 2x4, "
        f"{os.cpu_count()} cores; clients share the machine)"
    )
    failed = False
    for name, figure, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        failed |= ok is False
        print(f"  {name:<40} {figure:<38} {target:<14} {verdict}")
    print(
        json.dumps(
            {
                "reviews_p50_ms": pct(reviews, 50),
                "switch_p50_s": pct(switch, 50),
                "invoke_p50_ms": pct(kept, 50),
                "overhead_ms": overhead,
                "rps_8_clients": rps,
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
