"""The launcher `make run` and `make web` use: keep-alive, the public URL, the
workers and their queues, and supervision (restart with back-off, stop in time)."""

from __future__ import annotations

import http.client
import io
import os
import signal
import sys
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


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _supervise(children, seconds: float) -> tuple[launcher.Supervisor, str]:
    out = io.StringIO()
    supervisor = launcher.Supervisor(children, os.environ, out=out)
    deadline = time.monotonic() + seconds
    supervisor.run(lambda: time.monotonic() > deadline, interval=0.05)
    return supervisor, out.getvalue()


def test_a_child_that_exits_is_restarted_with_a_growing_back_off():
    crasher = launcher.Child("worker", _python("import sys; sys.exit(3)"))
    steady = launcher.Child("web server", _python("import time; time.sleep(60)"))

    supervisor, log = _supervise([crasher, steady], 6.0)
    steady_pid = steady.process.pid
    supervisor.stop(grace=2)

    # Exits at once, so it waits 1 s, then 2 s, then 4 s: three runs in 6 s.
    assert log.count("worker exited with code 3") == 3
    assert "restarting it in 1 s" in log and "restarting it in 2 s" in log
    assert "restarting it in 4 s" in log
    assert log.count("restarting worker") == 2
    assert "web server" not in log  # the others kept running, untouched
    assert steady.process.pid == steady_pid


def test_a_child_that_ran_a_while_is_restarted_at_the_shortest_delay(monkeypatch):
    monkeypatch.setattr(launcher, "STABLE_AFTER", 0.5)
    flaky = launcher.Child(
        "worker", _python("import time, sys; time.sleep(0.8); sys.exit(1)")
    )

    supervisor, log = _supervise([flaky], 4.5)
    supervisor.stop(grace=2)

    assert log.count("restarting it in 1 s") >= 2
    assert "restarting it in 2 s" not in log


def test_a_killed_child_leaves_nothing_it_started_behind(tmp_path):
    """A worker killed with SIGKILL leaves its pool processes orphaned; they go
    before the worker is started again."""
    pid_file = tmp_path / "grandchild.pid"
    worker = launcher.Child(
        "worker",
        _python(
            "import subprocess, sys, time;"
            f" p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            f" open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
        ),
    )
    supervisor, _ = _supervise([worker], 1.0)
    grandchild = int(pid_file.read_text())
    worker.process.kill()
    worker.process.wait()

    supervisor.tick()

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.05)
    assert not _alive(grandchild)
    supervisor.stop(grace=1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_stop_ends_every_child_in_time_even_one_that_ignores_sigterm():
    stubborn = launcher.Child(
        "worker",
        _python(
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            " print('ready', flush=True); time.sleep(60)"
        ),
    )
    polite = launcher.Child("web server", _python("import time; time.sleep(60)"))
    supervisor, _ = _supervise([stubborn, polite], 0.5)
    time.sleep(0.5)  # the stubborn one has set its handler

    started = time.monotonic()
    supervisor.stop(grace=1)

    assert time.monotonic() - started < 3
    assert stubborn.process.returncode == -signal.SIGKILL
    assert polite.process.returncode == -signal.SIGTERM


def test_make_run_starts_a_deployments_worker_with_beat_and_a_background_worker(
    monkeypatch,
):
    monkeypatch.setenv("CELERY_QUEUE", "reg")
    args = launcher.build_parser().parse_args([])

    web, deploy, background = launcher.children(args, "/data")

    assert web.command[web.command.index("-m") + 1] == "gunicorn"
    assert _option(deploy.command, "--queues") == "reg.deployments,reg"
    assert "--beat" in deploy.command
    assert (
        _option(background.command, "--queues") == "reg.checks,reg.email,reg.webhooks"
    )
    assert "--beat" not in background.command


def test_one_worker_for_everything_takes_deployments_first(monkeypatch):
    monkeypatch.delenv("CELERY_QUEUE", raising=False)

    command = launcher.worker_command("/data/beat")

    assert _option(command, "--queues") == (
        "registry.deployments,registry,registry.checks,registry.email,registry.webhooks"
    )


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_make_web_and_make_worker_run_their_part_only():
    def names(only: str) -> list[str]:
        args = launcher.build_parser().parse_args(["--only", only])
        return [child.name for child in launcher.children(args, "/data")]

    assert names("web") == ["web server"]
    assert names("workers") == ["worker", "background worker"]
    assert names("serve") == ["serving process"]


def test_make_serve_runs_the_serving_only_application():
    args = launcher.build_parser().parse_args(["--only", "serve", "--port", "8123"])
    (serve,) = launcher.children(args, "/data")

    assert "registry_site.wsgi:serving_application" in serve.command
    assert _option(serve.command, "--bind") == "127.0.0.1:8123"
