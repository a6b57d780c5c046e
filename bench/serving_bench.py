"""Invocation benchmark: the registry's fast path beside a bare WSGI app, one run.

    .venv/bin/python bench/serving_bench.py

Makes a throw-away data folder and SQLite database, registers the iris ONNX model,
approves and deploys it in-process (no worker needed), then starts three gunicorn
servers with the same settings as `make run` (gthread, ``BENCH_WORKERS`` workers x 8
threads, keep-alive) one after the other:

- ``registry_site.wsgi:application``: the registry, invocations on the fast path;
- ``registry_site.wsgi:django_application``: the same registry without the fast path
  (every invocation through Django and DRF, as before);
- ``bench/bare_wsgi.py``: a bare WSGI app around the same ONNX file.

For each: p50/p99 of a 1-row request over one kept-alive connection, and requests/s
with 8 kept-alive connections for ``BENCH_SECONDS`` seconds (errors counted). Then
approval to serving: with the Celery worker `make run` starts (file-system broker),
``BENCH_SWITCHES`` versions approved one by one through the API, each timed from the
approval's answer to the first invocation the new version answers. The
client speaks HTTP/1.1 over raw sockets, so its own cost stays small; it shares the
machine's cores with the servers. Prints a table and the ratios; everything it
creates is removed on exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = [[5.1, 3.5, 1.4, 0.2]]
WORKERS = os.environ.get("BENCH_WORKERS", "2")
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3000"))
SWITCHES = int(os.environ.get("BENCH_SWITCHES", "10"))
# Where the time from an approval to the first prediction goes, from the deployment
# row's timestamps (the approval's answer and the first new answer are the client's).
PHASES = (
    "approval -> deployment queued (outbox hand-off)",
    "queued -> started (broker, worker)",
    "started -> live pointer switched (verify, load, warm up)",
    "switched -> first prediction (the serving processes)",
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def role_users() -> dict[str, Any]:
    """One user per role the benches need, named ``bench-<role>`` (Django set up)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    users = {}
    for role in ("contributor", "reviewer", "deployer", "viewer"):
        user = get_user_model().objects.create_user(username=f"bench-{role}")
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        users[role] = user
    return users


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(env: dict[str, str], onnx_path: Path) -> dict[str, str]:
    """Register, approve and deploy iris v1, register ``SWITCHES`` more versions;
    returns tokens by role."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.files.base import ContentFile

    from accounts.services import token_issue
    from approvals.services import review_submit
    from catalog import outbox, services
    from catalog.models import Event
    from deployments import services as deploy
    from deployments.models import Deployment
    from tests import models as real_models

    users = role_users()
    content = real_models.iris_onnx()
    onnx_path.write_bytes(content)
    group = services.group_create(actor=users["contributor"], name="iris")
    deploy.endpoint_create(actor=users["deployer"], name="iris-bench", group=group)
    version = services.version_register(
        actor=users["contributor"],
        group=group,
        artifact=ContentFile(content, name="iris.onnx"),
        sample_payload={"inputs": SAMPLE},
    )
    review_submit(actor=users["reviewer"], version=version, decision="approve")
    event = Event.objects.filter(kind="version.approved", version_id=version.pk).get()
    outbox.dispatch(event.pk)
    deploy.deployment_run(Deployment.objects.filter(version=version).latest("id").pk)
    for _ in range(SWITCHES):
        services.version_register(
            actor=users["contributor"],
            group=group,
            artifact=ContentFile(content, name="iris.onnx"),
            sample_payload={"inputs": SAMPLE},
        )
    return {role: token_issue(user=user)[1] for role, user in users.items()}


class Connection:
    """One kept-alive HTTP/1.1 connection sending a fixed request."""

    def __init__(self, port: int, request: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = request
        self.buffer = b""

    def call(self) -> int:
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        self.buffer = rest[length:]
        return status

    def close(self) -> None:
        self.sock.close()


def request_bytes(path: str, token: str | None) -> bytes:
    body = json.dumps({"inputs": SAMPLE}).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        lines.append(f"Authorization: Token {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def latency(port: int, request: bytes) -> list[float]:
    conn = Connection(port, request)
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        status = conn.call()
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise SystemExit(f"answer {status}")
    conn.close()
    return times[200:]


def throughput(port: int, request: bytes, clients: int) -> tuple[float, int]:
    counts, errors = [0] * clients, [0] * clients
    ready = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def run(index: int) -> None:
        conn = Connection(port, request)
        ready.wait()
        while time.monotonic() < stop_at[0]:
            try:
                status = conn.call()
            except OSError:
                errors[index] += 1
                conn = Connection(port, request)
                continue
            if status == 200:
                counts[index] += 1
            else:
                errors[index] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.monotonic() + SECONDS
    ready.wait()
    for thread in threads:
        thread.join()
    return sum(counts) / SECONDS, sum(errors)


def serve(app: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        *("--bind", f"127.0.0.1:{port}", "--worker-class", "gthread"),
        *("--workers", WORKERS, "--threads", "8", "--keep-alive", "90"),
    ]
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"{app} did not start; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def measure(
    app: str, env: dict[str, str], log: Path, path: str, token: str | None
) -> dict[str, Any]:
    proc, port = serve(app, env, log)
    try:
        request = request_bytes(path, token)
        warm = Connection(port, request)
        for _ in range(200):  # every worker loads the model and remembers the token
            warm.call()
        warm.close()
        throughput(port, request, 8)  # warm every worker's threads
        times = latency(port, request)
        rps, errors = throughput(port, request, 8)
    finally:
        stop(proc)
    return {
        "p50": pct(times, 50),
        "p99": pct(times, 99),
        "rps": rps,
        "errors": errors,
    }


def approval_to_serving(
    env: dict[str, str], work: Path, tokens: dict[str, str]
) -> tuple[list[float], dict[str, list[float]]]:
    """Approve v2..v(1+SWITCHES) one by one through the API, with the worker of
    `make run` (file-system broker) deploying; seconds from the approval's answer to
    the first invocation answered by the new version."""
    import requests

    from registry_site.launcher import worker_command

    log = work / "worker.log"
    worker = subprocess.Popen(
        worker_command(str(work / "beat"), environ=env),
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc, port = serve("registry_site.wsgi:application", env, work / "gunicorn.log")
    url = f"http://127.0.0.1:{port}"
    approver = requests.Session()
    approver.headers["Authorization"] = f"Token {tokens['reviewer']}"
    request = request_bytes(
        "/api/v1/endpoints/iris-bench/invocations", tokens["viewer"]
    )
    latencies: list[float] = []
    served_at: dict[int, float] = {}
    approved_at: dict[int, float] = {}
    phases: dict[str, list[float]] = {name: [] for name in PHASES}
    try:
        time.sleep(3)  # the worker connects to its broker
        conn = Connection(port, request)
        for _ in range(50):
            conn.call()
        for number in range(2, 2 + SWITCHES):
            answer = approver.post(
                f"{url}/api/v1/model-groups/iris/versions/{number}/reviews/",
                json={"decision": "approve"},
            )
            approved = time.perf_counter()
            approved_at[number] = time.time()
            if answer.status_code != 201:
                raise SystemExit(
                    f"approval answered {answer.status_code}: {answer.text}"
                )
            while time.perf_counter() - approved < 30:
                conn.sock.sendall(conn.request)
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.sock.recv(65536)
                length = int(
                    head.lower().split(b"content-length:")[1].split(b"\r\n")[0]
                )
                body = head.partition(b"\r\n\r\n")[2]
                while len(body) < length:
                    body += conn.sock.recv(65536)
                if f"x-model-version: {number}\r\n".encode() in head.lower():
                    latencies.append(time.perf_counter() - approved)
                    served_at[number] = time.time()
                    break
                time.sleep(0.005)
            else:
                raise SystemExit(f"v{number} never served")
        conn.close()
        # The serving part: from the live pointer's switch (the deployment's
        # finished_at) to the first answer by the new version.
        listed = approver.get(
            f"{url}/api/v1/deployments/",
            params={"endpoint": "iris-bench", "status": "Succeeded", "page_size": 100},
        ).json()["results"]
        for row in listed:
            number = row["version"]
            if number in served_at and row.get("finished_at") and row.get("started_at"):
                stamps = [approved_at[number]]
                stamps += [
                    datetime.fromisoformat(row[field]).timestamp()
                    for field in ("created_at", "started_at", "finished_at")
                ]
                stamps.append(served_at[number])
                for name, begin, end in zip(PHASES, stamps, stamps[1:], strict=False):
                    phases[name].append(end - begin)
    finally:
        stop(proc)
        stop(worker)
    return latencies, phases


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="registry-serving-bench."))
    data = work / "data"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{data}/registry.sqlite3",
        "REGISTRY_DATA_DIR": str(data),
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "REGISTRY_CACHE_URL": "",
        "BARE_ONNX": str(work / "iris.onnx"),
    }
    env.pop("REGISTRY_PUBLIC_URL", None)
    try:
        subprocess.run(
            [sys.executable, "-m", "registry_site.prepare"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        tokens = seed(env, work / "iris.onnx")
        token = tokens["viewer"]
        invoke = "/api/v1/endpoints/iris-bench/invocations"
        log = work / "gunicorn.log"
        results = {
            "registry, fast path": measure(
                "registry_site.wsgi:application", env, log, invoke, token
            ),
            "registry, Django/DRF path": measure(
                "registry_site.wsgi:django_application", env, log, invoke, token
            ),
            "bare WSGI app": measure(
                "bench.bare_wsgi:application", env, log, "/", None
            ),
        }
        switches, phases = approval_to_serving(env, work, tokens)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nInvocation, 1-row iris ONNX, gunicorn gthread {WORKERS} workers x 8 "
        f"threads, keep-alive ({os.cpu_count()} cores, shared)"
    )
    print(
        f"{'server':28} {'p50 1 conn':>11} {'p99 1 conn':>11} {'req/s 8 conn':>13} {'errors':>7}"
    )
    for name, r in results.items():
        print(
            f"{name:28} {r['p50']:>8.3f} ms {r['p99']:>8.3f} ms "
            f"{r['rps']:>13.0f} {r['errors']:>7}"
        )
    fast, bare = results["registry, fast path"], results["bare WSGI app"]
    old = results["registry, Django/DRF path"]
    print(
        f"\nfast path / bare: p50 x{fast['p50'] / bare['p50']:.2f}, "
        f"req/s {fast['rps'] / bare['rps']:.0%}"
    )
    print(
        f"fast path / Django path: p50 x{fast['p50'] / old['p50']:.2f}, "
        f"req/s x{fast['rps'] / old['rps']:.1f}"
    )
    print("targets: p50 <= 0.5 ms at 1 connection, >= 3,000 req/s at 8, no errors")
    print(
        f"\napproval -> first prediction from the new version (worker of `make run`, "
        f"file-system broker, n={len(switches)}): p50 {pct(switches, 50) * 1000:.0f} ms, "
        f"max {max(switches) * 1000:.0f} ms (target p50 <= 250 ms)"
    )
    for name, values in phases.items():
        if values:
            print(
                f"  {name:58} p50 {pct(values, 50) * 1000:5.0f} ms, "
                f"max {max(values) * 1000:5.0f} ms"
            )
    if os.environ.get("BENCH_RESULTS"):
        Path(os.environ["BENCH_RESULTS"]).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
