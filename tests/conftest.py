from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from registry_site.launcher import worker_command
from registry_site.prepare import prepare
from tests.helpers import reachable, register_payload, require_service

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def _forget_remembered_tokens() -> Any:
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    from accounts.authentication import TokenAuthentication

    TokenAuthentication.forget()
    if isinstance(caches["default"], LocMemCache):  # never flush a shared Redis
        caches["default"].clear()  # rate-limit counters start at zero in every test
    yield


@pytest.fixture(autouse=True)
def _artifact_dir(settings: Any, tmp_path: Any) -> None:
    """Each test stores artifacts in its own folder, so leftovers are visible."""
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "artifacts")},
        },
    }
    (tmp_path / "artifacts").mkdir()


@pytest.fixture
def artifact_root(tmp_path: Any) -> Any:
    return tmp_path / "artifacts"


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    def make(*roles: str, username: str | None = None, **extra: Any) -> Any:
        name = username or f"user{next(_names)}-{'-'.join(roles) or 'none'}"
        user = get_user_model().objects.create_user(
            username=name, password="pw", **extra
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def viewer(make_user: Callable[..., Any]) -> Any:
    return make_user("viewer")


@pytest.fixture
def contributor(make_user: Callable[..., Any]) -> Any:
    return make_user("contributor")


@pytest.fixture
def reviewer(make_user: Callable[..., Any]) -> Any:
    return make_user("reviewer")


@pytest.fixture
def deployer(make_user: Callable[..., Any]) -> Any:
    return make_user("deployer")


@pytest.fixture
def admin_user(make_user: Callable[..., Any]) -> Any:
    return make_user("admin")


@pytest.fixture
def owner(make_user: Callable[..., Any]) -> Any:
    """A contributor with an e-mail address, who owns what the test registers."""
    return make_user("contributor", username="owner", email="owner@example.com")


@pytest.fixture
def norole(make_user: Callable[..., Any]) -> Any:
    """Signed in, but holding no role."""
    return make_user()


@pytest.fixture
def persona(make_user: Callable[..., Any]) -> Callable[[str], Any]:
    """A user holding ``role`` ("none" for a signed-in user without a role)."""

    def make(role: str) -> Any:
        return make_user() if role == "none" else make_user(role)

    return make


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    def make(user: Any | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def api(client_for: Callable[[Any], APIClient], contributor: Any) -> APIClient:
    """A contributor's client."""
    return client_for(contributor)


@pytest.fixture
def group(api: APIClient) -> dict[str, Any]:
    response = api.post("/api/v1/model-groups/", {"name": "iris"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def register(api: APIClient, group: dict[str, Any]) -> Callable[..., Any]:
    def do(
        group_name: str = "iris", client: APIClient | None = None, **fields: Any
    ) -> Any:
        return (client or api).post(
            f"/api/v1/model-groups/{group_name}/versions/",
            register_payload(**fields),
            format="multipart",
        )

    return do


class Worker:
    """A real Celery worker (with its beat scheduler) in a child process."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        # The very command `make run` starts.
        self.process = subprocess.Popen(
            worker_command(
                str(self.log_path.parent / "beat-schedule"), environ=self.env
            ),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=settings_base_dir(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("the Celery worker did not start:\n" + self.log_tail())

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def own_registry(
    session_worker: Worker, folder: Path, queue: str, **env: str
) -> Iterator[Any]:
    """A gunicorn server and a worker of their own, on the session's database and
    broker but their own queue (``-<queue>``) and extra settings ``env``: for a
    registry configured unlike the session's (S3 storage, allowed import sources)."""
    from tests.server import WebServer

    own = {
        **session_worker.env,
        "CELERY_QUEUE": f"{session_worker.env['CELERY_QUEUE']}-{queue}",
        **env,
    }
    worker = Worker(own, folder / "worker.log")
    worker.start()
    server = WebServer(own, folder / "web.log", settings_base_dir())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        worker.stop()


def settings_base_dir() -> str:
    from django.conf import settings

    return str(settings.BASE_DIR)


def _database_url() -> str:
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    host = params["HOST"] or "127.0.0.1"
    port = params["PORT"] or "5432"
    return f"postgres://{params['USER']}@{host}:{port}/{params['NAME']}"


@pytest.fixture(scope="session")
def shared_artifact_dir(tmp_path_factory: Any) -> Path:
    return tmp_path_factory.mktemp("shared-artifacts")


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: Any,
    django_db_blocker: Any,
    shared_artifact_dir: Path,
    tmp_path_factory: Any,
) -> Any:
    """One real worker for the session, on the real Redis broker, using the test database."""
    from django.conf import settings

    require_service(
        reachable(settings.TEST_REDIS_URL), f"Redis at {settings.TEST_REDIS_URL}"
    )
    from registry_site.celery import app

    app.control.purge()
    workdir = prepare(tmp_path_factory.mktemp("worker"))
    with django_db_blocker.unblock():
        database_url = _database_url()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SETTINGS")},
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.TEST_REDIS_URL,
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CELERY_VISIBILITY_TIMEOUT": "20",
        "CELERY_TASK_TIME_LIMIT": "15",
        "CELERY_TASK_SOFT_TIME_LIMIT": "12",
        "REGISTRY_DEPLOY_LEASE": str(settings.REGISTRY_DEPLOY_LEASE),
        "REGISTRY_DEPLOY_STALE_QUEUED": str(settings.REGISTRY_DEPLOY_STALE_QUEUED),
        "REGISTRY_ARTIFACT_DIR": str(shared_artifact_dir),
        "REGISTRY_DATA_DIR": str(workdir),
        "REGISTRY_OUTBOUND_ALLOW": ",".join(settings.REGISTRY_OUTBOUND_ALLOW),
        "REGISTRY_LOADER_TIMEOUT": "10",
    }
    worker = Worker(env, workdir / "worker.log")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def web_server(celery_worker_process: Worker, tmp_path_factory: Any) -> Any:
    """The gunicorn server `make run` starts, on the test database and the session's
    worker (tests/server.py). Tests using it need ``django_db(transaction=True)``."""
    from tests.server import WebServer

    env = {**celery_worker_process.env, "REGISTRY_SERVING_REFRESH": "0.05"}
    # The pages' static files, as `make run` collects them before it starts.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        env=env,
        cwd=settings_base_dir(),
        check=True,
    )
    server = WebServer(
        env, tmp_path_factory.mktemp("web") / "web.log", settings_base_dir()
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker(
    celery_worker_process: Worker,
    settings: Any,
    shared_artifact_dir: Path,
    transactional_db: Any,
) -> Worker:
    """The running worker, with artifacts stored where it reads them."""
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(shared_artifact_dir)},
        },
    }
    if celery_worker_process.process.poll() is not None:
        celery_worker_process.start()
    return celery_worker_process


@pytest.fixture(scope="session", autouse=True)
def _no_stray_connections_at_the_end(
    django_db_setup: Any, django_db_blocker: Any
) -> Any:
    """Threads of live servers and serving loads may leave connections behind; close
    them before the test database is dropped, so it can be."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_a_deadlock() -> Any:
    """After a transactional test the database is emptied with TRUNCATE, which locks
    every table in turn, while the real worker's reconcilers and the real web server
    keep querying it: PostgreSQL may then break a deadlock by aborting the TRUNCATE.
    Try it again (the other side has finished by then) instead of failing the test."""
    from django.db import OperationalError
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: Any, sql_list: Any) -> Any:
        for attempt in range(5):
            try:
                return original(self, sql_list)
            except OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return None

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]
