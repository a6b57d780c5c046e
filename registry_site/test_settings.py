"""Test overrides: only what makes tests faster or isolated, nothing test-only in behaviour."""

import os

from common import queues
from registry_site.settings import *  # noqa: F403
from registry_site.settings import DATA_DIR, DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: concurrency tests and the Celery worker need several
    # connections to one database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Live-server threads must not keep connections open past a test, or the test
# database cannot be dropped at the end.
DATABASES["default"]["CONN_MAX_AGE"] = 0


# Worker tests run a real Celery worker on a real Redis broker (tests skip them, or
# fail in CI, when it does not answer: tests/services.py). The queue is private to
# this test run, so parallel runs (SQLite and PostgreSQL) never share.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_BROKER_URL = TEST_REDIS_URL
CELERY_BROKER_TRANSPORT = None  # the embedded broker's transport is for filesystem://
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    "visibility_timeout": 20,
    "max_retries": 1,
}
CELERY_TASK_DEFAULT_QUEUE = os.environ.get(
    "CELERY_QUEUE", f"registry-test-{os.getpid()}"
)
CELERY_TASK_ROUTES = queues.routes(CELERY_TASK_DEFAULT_QUEUE)
REGISTRY_DEPLOY_LEASE = 6
REGISTRY_DEPLOY_STALE_QUEUED = 3
REGISTRY_LOADER_TIMEOUT = 30.0
REGISTRY_SERVING_REFRESH = 0.05
REGISTRY_OUTBOUND_ALLOW = ["127.0.0.0/8"]
