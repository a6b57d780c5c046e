"""MLflow registry benchmark: this registry against a stock ``mlflow server``, side by
side, both on the same PostgreSQL database, driven by the stock ``MlflowClient``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python bench/mlflow_bench.py

Each server runs 2 worker processes on loopback. The client keeps its connection
alive (as MLflow's client does); each operation is timed ``BENCH_REQUESTS`` times
after ``BENCH_WARMUP`` untimed calls: get version, search versions, set alias
(alternating between two versions) and create version. MLflow's tables and ours do
not share names, so both use the one database; MLflow's are dropped first.

"register a file" registers the same ~100 KB ONNX (a RandomForest exported by
skl2onnx) as a new version, over one keep-alive ``requests.Session`` on both sides:
here one multipart POST to ``/api/v1/model-groups/{name}/versions/`` (hashed,
format-checked, stored, numbered); on MLflow's server the least it takes to put a
file in its registry: the file PUT to its ``mlflow-artifacts`` proxy under a run's
artifacts, then ``model-versions/create`` with that source and run (MLflow neither
hashes nor checks the file).
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
N_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
N_WARMUP = int(os.environ.get("BENCH_WARMUP", "20"))
N_VERSIONS = int(os.environ.get("BENCH_MODEL_VERSIONS", "100"))
MODEL = "bench-mlflow"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen, what: str) -> None:
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not start")


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def prepare_ours(env: dict[str, str]) -> str:
    """Migrate, and issue a token for a contributor (read, write)."""
    subprocess.run(
        [sys.executable, "-m", "registry_site.prepare"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    script = (
        "from django.contrib.auth.models import Group, User\n"
        "from accounts.services import token_issue\n"
        "from catalog.models import ModelGroup\n"
        f"for g in ModelGroup.objects.filter(name={MODEL!r}):\n"
        "    g.aliases.all().delete(); g.versions.all().delete(); g.delete()\n"
        "u, _ = User.objects.get_or_create(username='bench-mlflow')\n"
        "u.groups.add(Group.objects.get_or_create(name='contributor')[0])\n"
        "print(token_issue(user=u, scopes=['read', 'write'])[1])\n"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def start_mlflow(
    uri: str, port: int, env: dict[str, str], artifacts: Path
) -> subprocess.Popen:
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    command += ["--artifacts-destination", str(artifacts)]
    return start(command, {**env, "MLFLOW_TRACKING_TOKEN": ""})


def drop_mlflow_tables(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        ours = ("django", "auth", "catalog", "approvals", "deployments")
        ours += ("webhooks", "accounts")  # MLflow 3 has a table named "webhooks"
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
            if not name.startswith(tuple(f"{prefix}_" for prefix in ours))
        ]
        for table in tables:
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


def create_mlflow_tables(uri: str, artifacts: Path) -> None:
    """Once, before the server starts: its workers racing to create them can fail."""
    from mlflow.store.model_registry.sqlalchemy_store import (
        SqlAlchemyStore as RegistryStore,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(uri, str(artifacts))
    RegistryStore(uri)


def timed(call: Callable[[int], Any]) -> dict[str, float]:
    for i in range(N_WARMUP):
        call(i)
    # The client process holds MLflow's large heap: freeze it so the client's own
    # garbage collection does not land in the servers' figures (both sides alike).
    gc.collect()
    gc.freeze()
    samples = []
    for i in range(N_REQUESTS):
        began = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {
        "median": statistics.median(samples),
        "p95": samples[int(len(samples) * 0.95) - 1],
    }


def register_ours(url: str, token: str, onnx: bytes) -> Callable[[int], Any]:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    target = f"{url}/api/v1/model-groups/{MODEL}/versions/"

    def call(i: int) -> None:
        files = {"artifact": ("model.onnx", onnx, "application/octet-stream")}
        answer = session.post(target, files=files, data={"description": f"r{i}"})
        if answer.status_code != 201:
            raise RuntimeError(f"registry answered {answer.status_code}: {answer.text}")

    return call


def register_theirs(url: str, onnx: bytes) -> Callable[[int], Any]:
    """MLflow's server takes a version's source only inside a run's artifacts (with
    that ``run_id``): one run is made first, and each file goes under its own path."""
    import requests

    session = requests.Session()
    experiment = session.post(
        f"{url}/api/2.0/mlflow/experiments/create",
        json={"name": f"bench-{time.monotonic_ns()}"},
    ).json()["experiment_id"]
    run = session.post(
        f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}
    ).json()["run"]["info"]
    root = run["artifact_uri"]
    base = root.split("mlflow-artifacts:/", 1)[1]

    def call(i: int) -> None:
        path = f"model-{time.monotonic_ns()}"
        put = session.put(
            f"{url}/api/2.0/mlflow-artifacts/artifacts/{base}/{path}/model.onnx",
            data=onnx,
        )
        create = session.post(
            f"{url}/api/2.0/mlflow/model-versions/create",
            json={"name": MODEL, "source": f"{root}/{path}", "run_id": run["run_id"]},
        )
        if put.status_code != 200 or create.status_code != 200:
            raise RuntimeError(
                f"mlflow answered {put.status_code}/{create.status_code}"
            )

    return call


def measure(
    url: str, register: Callable[[int], Any] | None = None
) -> dict[str, dict[str, float]]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    client.create_registered_model(MODEL)
    for i in range(N_VERSIONS):
        client.create_model_version(MODEL, f"s3://bench/{i}", run_id=f"run{i}")
    results = {
        "get version": timed(lambda i: client.get_model_version(MODEL, "7")),
        "search versions": timed(
            lambda i: client.search_model_versions(
                f"name = '{MODEL}' AND run_id = 'run{i % N_VERSIONS}'"
            )
        ),
        "set alias": timed(
            lambda i: client.set_registered_model_alias(
                MODEL, "candidate", str(1 + i % 2)
            )
        ),
        "create version": timed(
            lambda i: client.create_model_version(
                MODEL, "s3://bench/x", await_creation_for=0
            )
        ),
    }
    if register is not None:
        results["register a file"] = timed(register)
    return results


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    name = urlsplit(database_url).path.lstrip("/")
    if name in ("registry", ""):
        raise SystemExit("Use a database of its own (not 'registry').")
    data = ROOT / "data" / "bench-mlflow"
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(data),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    token = prepare_ours(env)
    drop_mlflow_tables(database_url)
    sys.path.insert(0, str(ROOT))
    from bench.catalog_bench import build_onnx_100k
    from registry_site.launcher import web_command

    ours_port, theirs_port = free_port(), free_port()
    pg = database_url.replace("postgres://", "postgresql+psycopg://", 1)
    create_mlflow_tables(pg, data / "mlflow-artifacts")
    ours = start(web_command("127.0.0.1", ours_port, workers=2), env)
    try:
        theirs = start_mlflow(pg, theirs_port, env, data / "mlflow-artifacts")
    except BaseException:
        stop(ours)
        raise
    try:
        wait_until_up(f"http://127.0.0.1:{ours_port}/healthz", ours, "registry")
        wait_until_up(f"http://127.0.0.1:{theirs_port}/health", theirs, "mlflow")
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        log("measuring this registry")
        onnx = build_onnx_100k()
        log(f"ONNX artifact: {len(onnx)} bytes")
        ours_url = f"http://127.0.0.1:{ours_port}"
        mine = measure(ours_url, register_ours(ours_url, token, onnx))
        log("measuring mlflow server")
        os.environ.pop("MLFLOW_TRACKING_TOKEN")
        theirs_url = f"http://127.0.0.1:{theirs_port}"
        stock = measure(theirs_url, register_theirs(theirs_url, onnx))
    finally:
        stop(ours)
        stop(theirs)
    print(f"{'operation':<16} {'registry ms (p95)':>20} {'mlflow ms (p95)':>20} ratio")
    for op, ours_ms in mine.items():
        theirs_ms = stock[op]
        print(
            f"{op:<16} {ours_ms['median']:>9.2f} ({ours_ms['p95']:>7.2f}) "
            f"{theirs_ms['median']:>11.2f} ({theirs_ms['p95']:>7.2f}) "
            f"{theirs_ms['median'] / ours_ms['median']:>5.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
