"""The launcher `make run` and `make web` use: keep-alive and the public URL."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import pytest

from registry_site import launcher

pytestmark = pytest.mark.django_db(transaction=True)
GUNICORN_DEFAULT_KEEP_ALIVE = 2
BALANCER_IDLE_TIMEOUT = 75


def test_an_idle_connection_is_still_usable_after_gunicorns_default(web_server):
    parts = urlsplit(web_server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", "/healthz")
    first = connection.getresponse()
    first.read()
    opened = connection.sock

    time.sleep(GUNICORN_DEFAULT_KEEP_ALIVE + 1.5)
    connection.request("GET", "/healthz")
    second = connection.getresponse()
    second.read()

    assert (first.status, second.status) == (200, 200)
    assert connection.sock is opened
    connection.close()


def test_keep_alive_outlasts_a_load_balancers_idle_timeout(monkeypatch):
    command = launcher.web_command("127.0.0.1", 8000)
    assert int(command[command.index("--keep-alive") + 1]) > BALANCER_IDLE_TIMEOUT

    monkeypatch.setenv("WEB_KEEP_ALIVE", "120")
    assert launcher.build_parser().parse_args([]).keep_alive == 120


def test_the_public_url_follows_the_port():
    env = launcher.child_environment("127.0.0.1", 8123, {})
    assert env["REGISTRY_PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert launcher.public_url("::1", 8123) == "http://[::1]:8123"
    assert "0.0.0.0" not in launcher.public_url("0.0.0.0", 8123)  # noqa: S104


def test_an_explicit_public_url_is_kept():
    explicit = {"REGISTRY_PUBLIC_URL": "https://registry.example.com"}
    env = launcher.child_environment("127.0.0.1", 8123, explicit)
    assert env["REGISTRY_PUBLIC_URL"] == "https://registry.example.com"
