"""Set alias through the stock MLflow client, on a model of 1,000 versions and on one
of 100,000: the time must not grow with the number of versions.

    .venv/bin/python bench/mlflow_alias_bench.py

Drops and creates the PostgreSQL database ``registry_alias_bench`` (``BENCH_POSTGRES``,
default ``postgres://postgres@127.0.0.1:5432``) and a temporary data folder, seeds two
registered models with ``bulk_create`` (``alias-1k``: 1,000 versions; ``alias-100k``:
100,000), runs ``ANALYZE``, starts gunicorn as `make run` does (2 workers) and times
``MlflowClient.set_registered_model_alias`` (moving ``candidate`` between two versions)
and ``get_model_version_by_alias``, ``BENCH_REQUESTS`` times each after
``BENCH_WARMUP`` calls, over the client's kept-alive connection. Everything it
creates is removed on exit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DB = "registry_alias_bench"
SIZES = {"alias-1k": 1_000, "alias-100k": 100_000}


def log(message: str) -> None:
    print(f"[alias-bench] {message}", file=sys.stderr, flush=True)


def psql(sql: str) -> None:
    host = PG.split("@", 1)[1].split(":")[0]
    subprocess.run(
        ["psql", "-h", host, "-U", "postgres", "-d", "postgres", "-qc", sql],
        check=True,
        capture_output=True,
    )


def seed() -> dict[str, Any]:
    """In the child: the two models and a contributor's token."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from accounts.services import token_issue
    from catalog.models import ModelGroup, ModelVersion

    user = get_user_model().objects.create_user("alias-bench")
    user.groups.add(Group.objects.get_or_create(name="contributor")[0])
    _, token = token_issue(user=user, scopes=["read", "write"])
    with transaction.atomic():
        for name, count in SIZES.items():
            group = ModelGroup.objects.create(
                name=name, next_version=count + 1, created_by=user
            )
            for start in range(1, count + 1, 5_000):
                ModelVersion.objects.bulk_create(
                    ModelVersion(
                        group=group,
                        version=number,
                        registration_status="Absent",
                        artifact_size=0,
                        metrics={"accuracy": 0.9},
                        created_by=user,
                    )
                    for number in range(start, min(start + 5_000, count + 1))
                )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"token": token}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(seed()))
        return 0
    sys.path.insert(0, str(ROOT))
    import requests

    from bench.mlflow_bench import free_port, start, stop, timed, wait_until_up
    from registry_site.launcher import web_command

    work = Path(tempfile.mkdtemp(prefix="registry-alias-bench."))
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB}",
        "REGISTRY_DATA_DIR": str(work / "data"),
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    server = None
    try:
        py = sys.executable
        subprocess.run(
            [py, "-m", "registry_site.prepare"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [py, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True
        )
        log(f"seeding {sum(SIZES.values())} versions")
        began = time.perf_counter()
        out = subprocess.run(
            [py, __file__, "seed"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        token = json.loads(out.strip().splitlines()[-1])["token"]
        log(f"seeded in {time.perf_counter() - began:.1f} s")
        port = free_port()
        server = start(web_command("127.0.0.1", port, workers=2), env)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz", server, "registry")
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=url, registry_uri=url)
        results = {}
        for name, count in SIZES.items():
            # Two versions late in the model, so no index scan stops early.
            first, second = str(count - 1), str(count)
            results[(name, "set alias")] = timed(
                lambda i, n=name, a=first, b=second: client.set_registered_model_alias(
                    n, "candidate", a if i % 2 else b
                )
            )
            results[(name, "get by alias")] = timed(
                lambda i, n=name: client.get_model_version_by_alias(n, "candidate")
            )
        requests.get(f"{url}/healthz", timeout=5)
    finally:
        if server is not None:
            stop(server)
        psql(f"DROP DATABASE IF EXISTS {DB}")
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{'model':<12} {'versions':>9} {'operation':<14} {'p50 ms':>8} {'p95 ms':>8}"
    )
    for (name, op), figures in results.items():
        print(
            f"{name:<12} {SIZES[name]:>9,} {op:<14} "
            f"{figures['median']:>8.2f} {figures['p95']:>8.2f}"
        )
    for op in ("set alias", "get by alias"):
        small, big = (results[(name, op)]["median"] for name in SIZES)
        print(f"{op}: 100,000 versions / 1,000 versions, p50: x{big / small:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
