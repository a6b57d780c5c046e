"""SageMaker API vs /api/v1: what the protocol layer costs (issue 12).

Runs alone: ``.venv/bin/python bench/sagemaker_bench.py`` (PostgreSQL at
127.0.0.1:5432, user postgres). It creates the database ``registry_sm_bench`` and a
temporary data folder, seeds one group of 200 versions (metadata only) and a user
with a token and an access key, starts gunicorn as production does (gthread, 1
worker x 4 threads), and measures over one keep-alive connection per client:

- ``DescribeModelPackage`` through boto3, and the same request signed once and sent
  again with ``requests`` (the server's cost alone: a signature stays valid for 15
  minutes), beside ``GET /api/v1/model-groups/<g>/versions/<n>/`` with a token;
- ``ListModelPackages`` (50 rows) beside ``GET …/versions/?page_size=50``;
- ``CreateModelPackage`` (metadata only) through boto3, and signed once and sent
  again (without a ``ClientToken`` each request registers one more version, as
  many pipelines do), beside ``POST …/versions/`` on ``/api/v1/`` registering a
  file of 120 bytes (an identity ONNX model): the REST face's registration always
  stores and checks a file, so that row does a little more work than the create.

Everything it creates is removed on exit. Nothing here changes project code.
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
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DB = "registry_sm_bench"
N = int(os.environ.get("BENCH_REQUESTS", "400"))
WARMUP = 40


def log(message: str) -> None:
    print(f"[sagemaker-bench] {message}", file=sys.stderr, flush=True)


def _db(action: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        f"{PG.replace('postgres://', 'postgresql://')}/postgres", autocommit=True
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(DB)
            )
        )
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))


def seed() -> dict[str, Any]:
    """In a child process (Django set up there, not in the measuring client)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from accounts.services import access_key_issue, token_issue
    from catalog import services as catalog

    user = User.objects.create_user("bench", password="-")
    for role in ("contributor", "reviewer"):
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    group = catalog.group_create(actor=user, name="bench-sm")
    for n in range(200):
        catalog.version_register_without_artifact(
            actor=user,
            group=group,
            description=f"run {n}",
            customer_metadata={"run": str(n)},
        )
    _, token = token_issue(user=user)
    key, secret = access_key_issue(actor=user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"token": token, "key_id": key.access_key_id, "secret": secret}


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p95": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


def _time(call: Any, n: int = N) -> dict[str, float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return _stats(samples)


def measure(url: str, state: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    import boto3
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials

    sm = boto3.client(
        "sagemaker",
        endpoint_url=f"{url}/sagemaker",
        region_name="us-east-1",
        aws_access_key_id=state["key_id"],
        aws_secret_access_key=state["secret"],
        config=Config(retries={"max_attempts": 1}),
    )
    api = requests.Session()
    api.headers["Authorization"] = f"Token {state['token']}"
    raw = requests.Session()

    def signed(target: str, params: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(params).encode()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"SageMaker.{target}",
            "X-Amz-Date": stamp,
            "Host": url.split("://")[1],
        }
        request = AWSRequest("POST", f"{url}/sagemaker/", headers, body)
        request.context["timestamp"] = stamp
        signer = SigV4Auth(
            Credentials(state["key_id"], state["secret"]), "sagemaker", "us-east-1"
        )
        signature = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, Signature={signature}"
        )
        return body, headers

    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package/bench-sm/100"
    describe_body, describe_headers = signed(
        "DescribeModelPackage", {"ModelPackageName": arn}
    )
    list_body, list_headers = signed(
        "ListModelPackages", {"ModelPackageGroupName": "bench-sm", "MaxResults": 50}
    )

    def ok(response: Any) -> None:
        assert response.status_code == 200, response.text

    def created(response: Any) -> None:
        assert response.status_code == 201, response.text

    create_body, create_headers = signed(
        "CreateModelPackage",
        {"ModelPackageGroupName": "bench-sm", "ModelPackageDescription": "bench"},
    )
    tiny = _identity_onnx()

    rows = [
        (
            "DescribeModelPackage, boto3",
            _time(lambda: sm.describe_model_package(ModelPackageName=arn)),
        ),
        (
            "DescribeModelPackage, signed once, requests",
            _time(
                lambda: ok(
                    raw.post(
                        f"{url}/sagemaker/",
                        data=describe_body,
                        headers=describe_headers,
                    )
                )
            ),
        ),
        (
            "GET /api/v1 version, token, requests",
            _time(
                lambda: ok(api.get(f"{url}/api/v1/model-groups/bench-sm/versions/100/"))
            ),
        ),
        (
            "ListModelPackages 50, boto3",
            _time(
                lambda: sm.list_model_packages(
                    ModelPackageGroupName="bench-sm", MaxResults=50
                )
            ),
        ),
        (
            "ListModelPackages 50, signed once, requests",
            _time(
                lambda: ok(
                    raw.post(f"{url}/sagemaker/", data=list_body, headers=list_headers)
                )
            ),
        ),
        (
            "GET /api/v1 versions page_size=50, token",
            _time(
                lambda: ok(
                    api.get(
                        f"{url}/api/v1/model-groups/bench-sm/versions/?page_size=50"
                    )
                )
            ),
        ),
        (
            "CreateModelPackage (metadata only), boto3",
            _time(
                lambda: sm.create_model_package(
                    ModelPackageGroupName="bench-sm", ModelPackageDescription="bench"
                ),
                n=N // 2,
            ),
        ),
        (
            "CreateModelPackage, signed once, requests",
            _time(
                lambda: ok(
                    raw.post(
                        f"{url}/sagemaker/", data=create_body, headers=create_headers
                    )
                ),
                n=N // 2,
            ),
        ),
        (
            "POST /api/v1 version (120-byte ONNX), token",
            _time(
                lambda: created(
                    api.post(
                        f"{url}/api/v1/model-groups/bench-sm/versions/",
                        files={"artifact": ("identity.onnx", tiny)},
                        data={"description": "bench"},
                    )
                ),
                n=N // 2,
            ),
        ),
    ]
    return rows


def _identity_onnx() -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])],
        "identity",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        print(json.dumps(seed()))
        return 0
    work = Path(tempfile.mkdtemp(prefix="registry-sm-bench."))
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB}",
        "REGISTRY_DATA_DIR": str(work / "data"),
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    server = None
    try:
        _db("create")
        py = sys.executable
        subprocess.run(
            [py, "-m", "registry_site.prepare"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [py, "manage.py", "migrate", "--noinput", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        log("seeding 200 versions")
        state = json.loads(
            subprocess.run(
                [py, __file__, "seed"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [py, "-m", "gunicorn", "registry_site.wsgi:application", "-k", "gthread", "-w", "1",
             "--threads", "4", "--keep-alive", "90", "-b", f"127.0.0.1:{port}",
             "--error-logfile", str(work / "gunicorn.log")],
            env=env, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        import requests

        for _ in range(200):
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        log(f"gunicorn (gthread, 1 worker x 4 threads) at {url}; {N} requests per row")
        rows = measure(url, state)
        print(f"{'operation':48} {'p50 ms':>8} {'p95 ms':>8}")
        for name, figures in rows:
            print(f"{name:48} {figures['p50']:8.2f} {figures['p95']:8.2f}")
        layer = rows[1][1]["p50"] - rows[2][1]["p50"]
        print(
            f"\nprotocol layer (signed DescribeModelPackage - /api/v1 GET), p50: {layer:+.2f} ms"
        )
        create = rows[7][1]["p50"] - rows[8][1]["p50"]
        print(
            f"signed CreateModelPackage - /api/v1 register (which also stores a file), "
            f"p50: {create:+.2f} ms"
        )
        return 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        _db("drop")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
