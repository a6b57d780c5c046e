"""PostgreSQL restart drill, against gunicorn serving the production settings.

While PostgreSQL is down the server answers at once with a 503 (JSON with Retry-After
for the API, a plain page for pages); once it is back the server recovers by itself
(CONN_HEALTH_CHECKS drops the dead persistent connections) and every row committed
before the restart is still there. PostgreSQL is started again whatever happens.

This stops the machine's PostgreSQL cluster for a few seconds (other users of it see
the outage too): it needs a local cluster and ``pg_ctlcluster`` (root).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from accounts.services import token_issue
from registry_site.prepare import prepare
from tests.helpers import wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
CONFIG = Path("/etc/postgresql")
TIMEOUT = 15  # seconds a request may take before it counts as hanging


def _cluster() -> list[str]:
    version = sorted(p.name for p in CONFIG.iterdir())[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def postgres(action: str) -> None:
    subprocess.run([*_cluster(), action], check=True, capture_output=True, timeout=120)


def postgres_running() -> bool:
    status = subprocess.run([*_cluster(), "status"], capture_output=True, timeout=30)
    return status.returncode == 0


@pytest.fixture
def local_cluster(transactional_db: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the drill restarts PostgreSQL")
    local = connection.settings_dict["HOST"] in ("", "localhost", "127.0.0.1", "::1")
    if not (local and CONFIG.is_dir() and shutil.which("pg_ctlcluster")):
        pytest.skip("the drill needs a local PostgreSQL cluster and pg_ctlcluster")
    if os.geteuid() != 0:
        pytest.skip("pg_ctlcluster needs root")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(local_cluster: None, tmp_path: Path) -> Iterator[str]:
    """gunicorn as `make web` runs it (static files collected as `make run` does)."""
    params = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SETTINGS")},
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DATABASE_URL": (
            f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:"
            f"{params['PORT'] or '5432'}/{params['NAME']}"
        ),
        "REGISTRY_DATA_DIR": str(prepare(tmp_path)),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    manage = [sys.executable, "manage.py"]
    base = str(settings.BASE_DIR)
    subprocess.run(
        [*manage, "collectstatic", "--noinput", "--verbosity", "0"],
        env=env,
        cwd=base,
        check=True,
        timeout=300,
    )
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "registry_site.wsgi:application"),
            *("--bind", f"127.0.0.1:{port}", "--worker-class", "gthread"),
            *("--workers", "1", "--threads", "4"),
        ],
        env=env,
        cwd=base,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{url}/healthz"), message="gunicorn to start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=TIMEOUT).status_code == 200
    except requests.ConnectionError:
        return False


def sign_in(url: str, user: Any) -> requests.Session:
    # The server runs the production settings, whose hashers do not include the
    # tests' fast MD5 one.
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode("pw", hasher.salt())
    user.save(update_fields=["password"])
    session = requests.Session()
    page = session.get(f"{url}/accounts/login/", timeout=TIMEOUT).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = session.post(
        f"{url}/accounts/login/",
        data={
            "username": user.username,
            "password": "pw",
            "csrfmiddlewaretoken": token[1],
        },
        headers={"Referer": f"{url}/accounts/login/"},
        timeout=TIMEOUT,
    )
    assert response.url == f"{url}/", response.text[:500]
    return session


def test_requests_get_503_during_a_restart_and_the_service_recovers(server, admin_user):
    _, key = token_issue(user=admin_user, name="drill")
    api = requests.Session()
    api.headers["Authorization"] = f"Token {key}"
    browser = sign_in(server, admin_user)
    created = api.post(
        f"{server}/api/v1/model-groups/", json={"name": "before-restart"}, timeout=15
    )
    assert created.status_code == 201, created.text

    try:
        postgres("stop")
        during_api = api.get(f"{server}/api/v1/model-groups/", timeout=TIMEOUT)
        during_page = browser.get(f"{server}/", timeout=TIMEOUT)
        during_probe = requests.get(f"{server}/healthz", timeout=TIMEOUT)
    finally:
        if not postgres_running():
            postgres("start")
        connection.close()  # this process's connection died with the server

    assert during_api.status_code == 503
    assert during_api.headers["Retry-After"] == "5"
    assert during_api.json()["error"]["code"] == "database_unavailable"
    assert during_page.status_code == 503
    assert during_page.headers["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in during_page.text
    assert during_probe.status_code == 503

    groups = wait_for(
        lambda: _list_groups(api, server), timeout=60, message="the API to recover"
    )
    assert "before-restart" in groups
    after = api.post(
        f"{server}/api/v1/model-groups/", json={"name": "after-restart"}, timeout=15
    )
    assert after.status_code == 201, after.text
    assert browser.get(f"{server}/", timeout=TIMEOUT).status_code == 200


def _list_groups(api: requests.Session, server: str) -> list[str] | None:
    response = api.get(f"{server}/api/v1/model-groups/", timeout=TIMEOUT)
    if response.status_code != 200:
        return None
    return [group["name"] for group in response.json()["results"]]
