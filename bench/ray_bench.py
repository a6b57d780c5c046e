"""The Ray target: deploy time and invocation throughput, on a local Ray cluster.

    .venv/bin/python bench/ray_bench.py

Makes a throw-away data folder and SQLite database, starts a local Ray cluster
(``tests/raycluster.py``: ``ray start --head`` on loopback, 2 CPUs, Serve's proxy on a
free port) and the registry under gunicorn as ``make run`` does, then creates a
``ray`` endpoint (one replica, 0.25 CPU) and approves ``BENCH_RAY_VERSIONS`` iris ONNX
versions one after the other, each deployment run in this process (as the Celery
task runs it) and timed from its start to ``Succeeded`` (Serve's application applied,
reported RUNNING and the new version answering through Ray's proxy). Then p50/p99 of
a 1-row request on one kept-alive connection and requests/s on 8 connections for
``BENCH_SECONDS`` seconds, through the registry's ``/invocations`` (forwarded to
Ray) and straight to Ray's proxy. Everything it creates is removed on exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving_bench import (  # noqa: E402
    Connection,
    pct,
    request_bytes,
    role_users,
    serve,
    stop,
    throughput,
)
from tests.raycluster import RayCluster  # noqa: E402

VERSIONS = int(os.environ.get("BENCH_RAY_VERSIONS", "3"))
ROUNDS = int(os.environ.get("BENCH_RAY_ROUNDS", "500"))


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
    return times[50:]


def main() -> int:
    import shutil

    work = Path(tempfile.mkdtemp(prefix="registry-ray-bench."))
    data = work / "data"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{data}/registry.sqlite3",
        "REGISTRY_DATA_DIR": str(data),
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "REGISTRY_CACHE_URL": "",
    }
    cluster = RayCluster()
    # The cluster the admin configured (an endpoint's own address would be an
    # outbound call, refused on loopback).
    env["REGISTRY_RAY_DASHBOARD_URL"] = cluster.dashboard
    env["REGISTRY_RAY_SERVE_URL"] = cluster.serve
    web = None
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
        cluster.start()
        ray_start = time.monotonic() - started
        web, port = serve("registry_site.wsgi:application", env, work / "web.log")
        os.environ.update(env)
        os.environ["REGISTRY_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        deploys, token = deploy_versions(cluster)
        invoke = "/api/v1/endpoints/iris-ray/invocations"
        rows = {
            "registry /invocations -> Ray": (port, request_bytes(invoke, token)),
            "Ray proxy directly": (
                cluster.serve_port,
                request_bytes(f"/iris-ray/v{VERSIONS}", None),
            ),
        }
        results = {}
        for name, (target, request) in rows.items():
            times = latency(target, request)
            rps, errors = throughput(target, request, 8)
            results[name] = (pct(times, 50), pct(times, 99), rps, errors)
    finally:
        if web is not None:
            stop(web)
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nRay target ({os.cpu_count()} cores, shared); Ray started in {ray_start:.1f} s"
    )
    print(
        "deploy, start -> Succeeded (apply, RUNNING, answer): "
        + ", ".join(f"{d:.1f} s" for d in deploys)
        + f"; p50 {pct(deploys, 50):.1f} s"
    )
    print(
        f"{'path':32} {'p50 1 conn':>11} {'p99 1 conn':>11} {'req/s 8 conn':>13} {'errors':>7}"
    )
    for name, (p50, p99, rps, errors) in results.items():
        print(f"{name:32} {p50:>8.2f} ms {p99:>8.2f} ms {rps:>13.0f} {errors:>7}")
    return 0


def deploy_versions(cluster: RayCluster) -> tuple[list[float], str]:
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
    group = services.group_create(actor=users["contributor"], name="iris")
    deploy.endpoint_create(
        actor=users["deployer"],
        name="iris-ray",
        group=group,
        target="ray",
        ray_dashboard_url=cluster.dashboard,
        ray_serve_url=cluster.serve,
    )
    times = []
    for _ in range(VERSIONS):
        version = services.version_register(
            actor=users["contributor"],
            group=group,
            artifact=ContentFile(content, name="iris.onnx"),
            sample_payload={"inputs": [[5.1, 3.5, 1.4, 0.2]]},
        )
        review_submit(actor=users["reviewer"], version=version, decision="approve")
        event = Event.objects.get(kind="version.approved", version_id=version.pk)
        outbox.dispatch(event.pk)
        deployment = Deployment.objects.filter(version=version).latest("id")
        started = time.monotonic()
        outcome = deploy.deployment_run(deployment.pk)
        times.append(time.monotonic() - started)
        deployment.refresh_from_db()
        if outcome != "succeeded":
            raise SystemExit(f"deployment {outcome}: {deployment.error}")
    return times, token_issue(user=users["viewer"])[1]


if __name__ == "__main__":
    raise SystemExit(main())
