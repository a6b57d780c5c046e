"""An unreachable database answers a quick 503 with Retry-After (JSON for the API, a
plain page for pages), never a 500; the next request once it is back succeeds.

The outage here is this process's connection pointed at a database that is not
there; tests/reliability/test_postgres_restart.py restarts a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from accounts.services import token_issue
from registry_site.views import server_error

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_unreachable(tmp_path: Any) -> Iterator[None]:
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(original)


def test_the_api_answers_503_json_with_retry_after(admin_user, tmp_path):
    _, key = token_issue(user=admin_user, name="ci")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    with database_unreachable(tmp_path):
        response = client.get("/api/v1/model-groups/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "database_unavailable"
    assert client.get("/api/v1/model-groups/").status_code == 200


def test_a_page_answers_a_plain_503_page(admin_user, tmp_path):
    client = Client()
    client.force_login(admin_user)

    with database_unreachable(tmp_path):
        response = client.get("/")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "5"
    assert b"Temporarily unavailable" in response.content
    assert client.get("/").status_code == 200


def test_the_probe_reports_the_outage(tmp_path):
    with database_unreachable(tmp_path):
        response = Client().get("/healthz")

    assert response.status_code == 503


def test_an_outage_noticed_outside_a_view_is_a_503_too():
    request = RequestFactory().get("/api/v1/model-groups/")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(request)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_other_errors_stay_500():
    request = RequestFactory().get("/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)

    assert response.status_code == 500
