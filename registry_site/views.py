"""Liveness and readiness probes (no authentication, no templates, no sessions), and
the site's 500 handler."""

import sys

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not healthy"
        return False, f"{type(exc).__name__}: {exc}"[:300]
    return True, "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers and reaches its database."""
    ok, detail = _database_ok()
    return JsonResponse(
        {"status": "ok" if ok else "error", "database": detail},
        status=200 if ok else 503,
    )


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to take traffic: database reachable, migrations applied, storage
    writable; also reports the deployments worker's last heartbeat."""
    from django.db.migrations.executor import MigrationExecutor

    checks: dict[str, str] = {}
    ok, checks["database"] = _database_ok()
    if ok:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = "ok" if not plan else f"{len(plan)} unapplied"
        ok = not plan
    if ok:
        checks.update(_worker())
    if not settings.S3_BUCKET:
        writable = (
            settings.ARTIFACT_ROOT.exists() or settings.ARTIFACT_ROOT.parent.exists()
        )
        checks["storage"] = "ok" if writable else "artifact folder missing"
        ok = ok and writable
    return JsonResponse(
        {"status": "ok" if ok else "error", **checks, "serving": _serving()},
        status=200 if ok else 503,
    )


def _serving() -> dict[str, object]:
    """What this process serves, and what every serving process of this machine
    reported (``deployments.serving``): per endpoint the version each answers with."""
    from deployments import serving

    return {"this_process": serving.process_status(), "processes": serving.processes()}


def _worker() -> dict[str, str]:
    """The deployments worker's last heartbeat. Reported, not required: the web
    serves (and queues deployments) while a worker restarts."""
    from deployments.selectors import heartbeat_get

    beat = heartbeat_get()
    if beat.beat_at is None or beat.age is None:
        return {"worker": "no heartbeat yet"}
    fresh = beat.fresh(settings.REGISTRY_WORKER_HEARTBEAT_STALE)
    return {
        "worker": "ok" if fresh else "stale",
        "worker_heartbeat": beat.beat_at.isoformat(),
        "worker_heartbeat_age": f"{beat.age:.1f}",
    }


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an unreachable database is a 503 wherever it was noticed (a
    middleware, the session), as in a view (common.middleware)."""
    from common.middleware import database_unavailable, is_database_error

    exception = sys.exc_info()[1]
    if exception is not None and is_database_error(exception):
        return database_unavailable(request, exception)
    return defaults.server_error(request)
