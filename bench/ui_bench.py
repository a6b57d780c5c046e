"""Web UI benchmark: pages of a big catalog, as a signed-in user sees them.

Usage, from the repository root, with PostgreSQL running (nothing else needed):

    .venv/bin/python bench/ui_bench.py            # seed, serve, measure, clean up
    .venv/bin/python bench/ui_bench.py --keep     # ... but keep the database and data
    .venv/bin/python bench/ui_bench.py --reuse    # measure again what --keep left

It creates the PostgreSQL database ``registry_ui_bench`` (server from BENCH_POSTGRES,
default postgres://postgres@127.0.0.1:5432) and a temporary data folder, seeds 10,000
model groups with 100,000 versions (3 metrics each, 60% approved with their review,
2,000 endpoints serving with their deployments, aliases, approval policies) with
bulk inserts, runs ANALYZE, collects the static files and starts gunicorn (gthread,
2 workers x 4 threads) as in production. Then it measures:

- server-side render time of the catalog, group and version pages over one
  keep-alive HTTP connection with a signed-in session cookie (a user with every
  role but admin, so that review buttons and the inbox count are rendered):
  p50/p95/p99 of BENCH_REQUESTS (default 300) requests per page; target p95 <= 100 ms;
- first paint of the catalog page in headless Chromium (/usr/bin/chromium), from
  performance.getEntriesByType("paint"), fresh browser context each time; target 1 s;
- the static assets each page loads (CSS and JS), as served gzip-compressed by
  WhiteNoise; target <= 300 KB per page.

Environment: BENCH_GROUPS, BENCH_VERSIONS, BENCH_BIG_GROUP_VERSIONS, BENCH_REQUESTS,
BENCH_WARMUP, BENCH_POSTGRES. Exit status 0 when every target is met, 3 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from registry_site.prepare import prepare

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
N_GROUPS = int(os.environ.get("BENCH_GROUPS", "10000"))
N_VERSIONS = int(os.environ.get("BENCH_VERSIONS", "100000"))
BIG_GROUP_VERSIONS = int(os.environ.get("BENCH_BIG_GROUP_VERSIONS", "2000"))
N_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
N_WARMUP = int(os.environ.get("BENCH_WARMUP", "30"))
N_ENDPOINTS = min(2000, N_GROUPS)
PG = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB_NAME = "registry_ui_bench"
USERNAME, PASSWORD = "bench-ui", "bench-ui-pass-not-secret"
BIG_GROUP = "bench-big"
METRICS = ("accuracy", "auc", "f1")
WORDS = ("fraud", "ranking", "forecast", "pricing", "vision", "churn", "spam")
TEAMS = ("growth", "risk", "ads", "search", "platform", "vision")
BATCH = 5000
RENDER_P95_MS = 100.0
FIRST_PAINT_MS = 1000.0
ASSETS_KB = 300.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def log(message: str) -> None:
    print(f"[ui-bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------- database
def database_url() -> str:
    return f"{PG}/{DB_NAME}"


def db(action: str) -> None:
    import psycopg
    from psycopg import sql

    admin = f"{PG}/postgres".replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(DB_NAME)
            )
        )
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    log(f"database {DB_NAME}: {'created' if action == 'create' else 'dropped'}")


# ------------------------------------------------------------------------- seed
def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    import django

    django.setup()


def _counts(rng: random.Random) -> list[int]:
    """Versions per ordinary group: 5 to 15, summing exactly to the total."""
    groups = N_GROUPS - 1
    total = N_VERSIONS - BIG_GROUP_VERSIONS
    counts = [rng.randint(5, 15) for _ in range(groups)]
    diff, index = total - sum(counts), 0
    while diff:
        step = 1 if diff > 0 else -1
        if 1 <= counts[index % groups] + step <= 30:
            counts[index % groups] += step
            diff -= step
        index += 1
    return counts


def cmd_seed(state_path: str) -> None:
    _django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from approvals.models import ApprovalPolicy, Review
    from catalog.models import Alias, Metric, ModelGroup, ModelVersion
    from deployments.models import Deployment, DeploymentLogLine, Endpoint

    rng = random.Random(20261127)
    started = time.perf_counter()
    users = get_user_model().objects
    user = users.create_user(USERNAME, "ui@example.com", PASSWORD)
    user.groups.add(
        *Group.objects.filter(name__in=["contributor", "reviewer", "deployer"])
    )
    author = users.create_user("bench-author", "a@example.com", "x-not-secret")
    approver = users.create_user("bench-approver", "r@example.com", "x-not-secret")
    now = timezone.now()
    counts = _counts(rng)
    specs = [(BIG_GROUP, BIG_GROUP_VERSIONS)] + [
        (f"model-{i:05d}", count) for i, count in enumerate(counts)
    ]
    with transaction.atomic():
        groups = ModelGroup.objects.bulk_create(
            [
                ModelGroup(
                    name=name,
                    description=f"Predicts {rng.choice(WORDS)} for the "
                    f"{rng.choice(TEAMS)} team.",
                    tags={"team": rng.choice(TEAMS), "tier": str(rng.randint(1, 3))},
                    next_version=count + 1,
                    created_by=author,
                    created_at=now - timezone.timedelta(days=400 - i * 0.03),
                )
                for i, (name, count) in enumerate(specs)
            ],
            batch_size=BATCH,
        )
        log(f"{len(groups)} groups in {time.perf_counter() - started:.1f} s")
        # Metric rows copy their version's group where the model has that column.
        has_group = "group" in {f.name for f in Metric._meta.get_fields()}

        def grouped(version: Any) -> dict[str, Any]:
            return {"group_id": version.group_id} if has_group else {}

        latest_approved: dict[int, Any] = {}
        total = 0
        for batch in _batches(_versions(groups, specs, author, rng)):
            ModelVersion.objects.bulk_create(batch)
            Metric.objects.bulk_create(
                Metric(version_id=v.pk, name=n, value=x, **grouped(v))
                for v in batch
                for n, x in v.metrics.items()
            )
            approved = [v for v in batch if v.approval_status == "Approved"]
            Review.objects.bulk_create(
                Review(
                    version_id=v.pk,
                    reviewer=approver,
                    reviewer_name=approver.username,
                    decision="approve",
                    comment="Metrics and card look fine.",
                    status_after="Approved",
                    created_at=v.created_at + timezone.timedelta(hours=2),
                )
                for v in approved
            )
            for version in approved:
                latest_approved[version.group_id] = version
            total += len(batch)
        log(
            f"{total} versions, metrics, reviews in {time.perf_counter() - started:.1f} s"
        )
        ApprovalPolicy.objects.bulk_create(
            ApprovalPolicy(
                group=g,
                required_approvals=1 + i % 2,
                metric_gates=[{"metric": "accuracy", "op": ">=", "value": 0.3}],
                require_lineage_commit=True,
            )
            for i, g in enumerate(groups[::10])
        )
        Alias.objects.bulk_create(
            Alias(
                group=g,
                name="champion",
                version=latest_approved[g.pk],
                updated_by=author,
            )
            for g in groups[::2]
            if g.pk in latest_approved
        )
        serving = [g for g in groups[:N_ENDPOINTS] if g.pk in latest_approved]
        endpoints = Endpoint.objects.bulk_create(
            Endpoint(
                name=f"{g.name}-prod",
                group=g,
                created_by=user,
                live_version=latest_approved[g.pk],
                live_since=now,
            )
            for g in serving
        )
        deployments = Deployment.objects.bulk_create(
            Deployment(
                endpoint=e,
                version=e.live_version,
                status="Succeeded",
                reason="approval",
                attempts=1,
                started_at=now,
                finished_at=now,
            )
            for e in endpoints
        )
        DeploymentLogLine.objects.bulk_create(
            DeploymentLogLine(
                deployment=d,
                text=f"{now.isoformat()} endpoint {d.endpoint.name} now serves v1",
            )
            for d in deployments
        )
        log(f"{len(endpoints)} endpoints; policies, aliases, deployments done")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    small = [name for name, count in specs[1:] if count >= 10]
    state = {
        "small_groups": small[:2000],
        "big_group": BIG_GROUP,
        "big_group_versions": BIG_GROUP_VERSIONS,
        "groups": len(groups),
        "versions": total,
        "endpoints": len(endpoints),
        "seed_seconds": round(time.perf_counter() - started, 1),
    }
    Path(state_path).write_text(json.dumps(state))
    log(f"seeded in {state['seed_seconds']} s (ANALYZE done)")


def _versions(
    groups: list[Any], specs: list[tuple[str, int]], author: Any, rng: random.Random
) -> Iterator[Any]:
    from django.utils import timezone

    from catalog.models import ModelVersion

    for group, (_, count) in zip(groups, specs, strict=True):
        for number in range(1, count + 1):
            draw = rng.random()
            status = (
                "Approved"
                if draw < 0.6
                else "Rejected"
                if draw < 0.7
                else "PendingManualApproval"
            )
            yield ModelVersion(
                group=group,
                version=number,
                description=f"{group.name} v{number}: gradient boosting, "
                f"{rng.randint(50, 500)} trees.",
                model_card=f"# {group.name} v{number}\n\n## Intended use\n\n"
                "Scoring **production** traffic.\n\n| metric | value |\n|---|---|\n"
                "| accuracy | 0.9 |\n",
                approval_status=status,
                registration_status="Ready",
                artifact_key="bench/none",
                artifact_sha256="0" * 64,
                artifact_size=rng.randint(10_000, 50_000_000),
                artifact_format="onnx",
                artifact_filename=f"{group.name}-v{number}.onnx",
                metrics={m: round(rng.random(), 4) for m in METRICS},
                hyperparameters={"n_estimators": 100, "max_depth": 8, "lr": 0.1},
                customer_metadata={"owner": "ml-platform"},
                tags={"stage": rng.choice(("dev", "staging", "prod"))},
                lineage={
                    "commit": f"{rng.getrandbits(28):07x}",
                    "dataset_uri": f"s3://data/{group.name}/{number}",
                },
                sample_payload={"inputs": [[0.1, 0.2, 0.3]]},
                created_by=author,
                created_at=group.created_at + timezone.timedelta(hours=number),
            )


def _batches(items: Iterator[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------------- serving
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str], work: Path) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # S603/S607: fixed argv, no shell
    server = subprocess.Popen(
        [
            PYTHON,
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
            "--error-logfile",
            str(work / "gunicorn.log"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                log(f"gunicorn (gthread, 2 workers x 4 threads) at {url}")
                return server, url
        except requests.RequestException:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start:\n" + (work / "gunicorn.log").read_text())


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def sign_in(base: str) -> Any:
    """A requests session signed in through the login form, as a browser does."""
    import requests

    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": USERNAME,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1) if token else "",
        },
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"sign-in failed: HTTP {response.status_code}")
    return session


# ---------------------------------------------------------------------- measure
def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-int(p * len(ordered)) // 100))
    return ordered[min(rank, len(ordered)) - 1]


def timed(session: Any, base: str, paths: Callable[[int], str]) -> list[float]:
    timings = []
    for i in range(-N_WARMUP, N_REQUESTS):
        path = paths(i)
        start = time.perf_counter()
        response = session.get(base + path, timeout=60)
        body = response.content
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"GET {path} -> {response.status_code}: {body[:300]!r}")
        if i >= 0:
            timings.append(elapsed * 1000)
    return timings


def measure_render(session: Any, base: str, state: dict[str, Any]) -> list[dict]:
    rng = random.Random(7)
    small, big = state["small_groups"], state["big_group"]
    cases: list[tuple[str, Callable[[int], str]]] = [
        ("catalog, first page", lambda i: "/"),
        ("catalog, random page", lambda i: f"/?page={rng.randint(1, 400)}"),
        ("catalog, search q=churn", lambda i: "/?q=churn"),
        (
            "catalog, tag=team:risk, sort newest",
            lambda i: "/?tag=team:risk&sort=-created_at",
        ),
        ("group, ~10 versions", lambda i: f"/models/{rng.choice(small)}/"),
        (f"group, {state['big_group_versions']} versions", lambda i: f"/models/{big}/"),
        (
            f"group, {state['big_group_versions']} versions, accuracy>=0.5, page 3",
            lambda i: f"/models/{big}/?metric=accuracy>=0.5&page=3",
        ),
        (
            "version, ~10-version group",
            lambda i: f"/models/{rng.choice(small)}/versions/{rng.randint(1, 10)}/",
        ),
        (
            f"version, {state['big_group_versions']}-version group",
            lambda i: (
                f"/models/{big}/versions/{rng.randint(1, state['big_group_versions'])}/"
            ),
        ),
    ]
    results = []
    for name, paths in cases:
        log(f"measuring: {name}")
        load = os.getloadavg()[0]
        ms = timed(session, base, paths)
        results.append(
            {
                "page": name,
                "p50": percentile(ms, 50),
                "p95": percentile(ms, 95),
                "p99": percentile(ms, 99),
                "load": load,
            }
        )
    return results


ASSET_RE = re.compile(r'<(?:script|link)\b[^>]*?(?:src|href)="(/static/[^"]+)"')


def measure_assets(session: Any, base: str, state: dict[str, Any]) -> list[dict]:
    small = state["small_groups"][0]
    pages = {
        "catalog": "/",
        "group": f"/models/{small}/",
        "version": f"/models/{small}/versions/1/",
        "compare": f"/models/{small}/compare/?versions=1,2,3",
        "endpoint": f"/endpoints/{state['first_endpoint']}/",
        "inbox": "/reviews/",
    }
    results = []
    for name, path in pages.items():
        html = session.get(base + path, timeout=30).text
        total, files = 0, []
        for asset in ASSET_RE.findall(html):
            response = session.get(
                base + asset,
                headers={"Accept-Encoding": "gzip"},
                stream=True,
                timeout=30,
            )
            raw = response.raw.read(decode_content=False)
            encoding = response.headers.get("Content-Encoding", "identity")
            total += len(raw)
            files.append(
                f"{asset.rsplit('/', 1)[-1]} {len(raw) / 1024:.1f} KB {encoding}"
            )
        results.append({"page": name, "kb": total / 1024, "files": files})
    return results


# Paint entries may be reported after the load event: wait for both (5 s at most).
PAINTS_JS = """() => new Promise(resolve => {
  const seen = {};
  const names = ["first-paint", "first-contentful-paint"];
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) seen[entry.name] = entry.startTime;
    if (names.every(name => name in seen)) resolve(seen);
  }).observe({type: "paint", buffered: true});
  setTimeout(() => resolve(seen), 5000);
})"""


def measure_first_paint(base: str, session_id: str, runs: int = 7) -> dict[str, Any]:
    if not os.path.exists(CHROMIUM):
        return {
            "skipped": f"{CHROMIUM} not installed (scripts/system_packages.sh installs it)"
        }
    from playwright.sync_api import sync_playwright

    paints, contentful, loads = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies(
                [{"name": "sessionid", "value": session_id, "url": base}]
            )
            page = context.new_page()
            page.goto(base + "/", wait_until="load")
            entries = page.evaluate(PAINTS_JS)
            timing = page.evaluate(
                "() => performance.getEntriesByType('navigation')[0].loadEventEnd"
            )
            paints.append(entries.get("first-paint", float("nan")))
            contentful.append(entries.get("first-contentful-paint", float("nan")))
            loads.append(timing)
            context.close()
        browser.close()
    return {
        "runs": runs,
        "first_paint_median": percentile(paints, 50),
        "first_paint_max": max(paints),
        "fcp_median": percentile(contentful, 50),
        "load_median": percentile(loads, 50),
    }


def report(
    state: dict[str, Any], render: list[dict], assets: list[dict], paint: dict
) -> bool:
    ok = True
    print()
    print(
        f"Catalog: {state['groups']} groups, {state['versions']} versions, "
        f"{state['endpoints']} endpoints (seeded in {state['seed_seconds']} s). "
        f"{N_REQUESTS} requests per page after {N_WARMUP} warm-up, one keep-alive "
        f"connection, signed in as {USERNAME} (contributor, reviewer, deployer)."
    )
    print()
    width = max(len(r["page"]) for r in render)
    print(
        f"{'page':<{width}}  {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  target      load"
    )
    print("-" * (width + 48))
    for r in render:
        passed = r["p95"] <= RENDER_P95_MS
        ok &= passed
        print(
            f"{r['page']:<{width}}  {r['p50']:7.1f} {r['p95']:7.1f} {r['p99']:7.1f}"
            f"  p95<={RENDER_P95_MS:g} {'PASS' if passed else 'FAIL'}  {r['load']:.2f}"
        )
    print(f"(load: 1-minute load average on {os.cpu_count()} cores before each series)")
    print()
    print("Static assets per page (CSS + JS as served, gzip):")
    for a in assets:
        passed = a["kb"] <= ASSETS_KB
        ok &= passed
        print(
            f"  {a['page']:<9} {a['kb']:6.1f} KB  (target <= {ASSETS_KB:g} KB) "
            f"{'PASS' if passed else 'FAIL'}   {'; '.join(a['files'])}"
        )
    print()
    if "skipped" in paint:
        print(f"First paint: skipped: {paint['skipped']}")
    else:
        passed = paint["first_paint_max"] <= FIRST_PAINT_MS
        ok &= passed
        print(
            f"First paint of the catalog page (headless Chromium, {paint['runs']} fresh "
            f"contexts): median {paint['first_paint_median']:.0f} ms, worst "
            f"{paint['first_paint_max']:.0f} ms (target <= {FIRST_PAINT_MS:g} ms) "
            f"{'PASS' if passed else 'FAIL'}; first contentful paint median "
            f"{paint['fcp_median']:.0f} ms; load event median {paint['load_median']:.0f} ms"
        )
    print()
    return ok


# ------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "seed"])
    parser.add_argument("state", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep database and data")
    parser.add_argument("--reuse", action="store_true", help="measure what --keep left")
    args = parser.parse_args(argv)
    if args.command == "seed":
        cmd_seed(args.state)
        return 0

    work = Path(tempfile.gettempdir()) / "registry-ui-bench"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REGISTRY_DATA_DIR": str(work / "data"),
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    state_path = work / "state.json"
    started = time.perf_counter()
    if not (args.reuse and state_path.exists()):
        shutil.rmtree(work, ignore_errors=True)
        prepare(work / "data")
        db("create")
        manage = [PYTHON, "manage.py"]
        subprocess.run(
            [*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [PYTHON, __file__, "seed", str(state_path)], cwd=ROOT, env=env, check=True
        )
    # Every run: the page's assets are those of the code being measured.
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    state = json.loads(state_path.read_text())
    state["first_endpoint"] = f"{state['big_group']}-prod"
    server, base = start_server(env, work)
    try:
        session = sign_in(base)
        render = measure_render(session, base, state)
        assets = measure_assets(session, base, state)
        paint = measure_first_paint(base, session.cookies["sessionid"])
    finally:
        stop_server(server)
        if not args.keep:
            db("drop")
            shutil.rmtree(work, ignore_errors=True)
    ok = report(state, render, assets, paint)
    print(f"ui bench finished in {time.perf_counter() - started:.0f} s")
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
