"""Run the web server and the Celery workers (one with the beat scheduler) together.

``python -m registry_site.launcher --host 127.0.0.1 --port 8000`` supervises them: a
process that exits is started again after a back-off (1 s, doubling to 30 s; back to
1 s once it ran a minute), with a line in the log, while the others keep running, so
the web server keeps serving through a worker crash. Ctrl-C (or SIGTERM) stops
everything within 10 s. ``--only web`` runs the web server alone (``make web``),
``--only workers`` the workers alone (``make worker``), ``--only serve`` a
serving-only process (``make serve``: invocations, the Open Inference Protocol and
the health checks, no UI or API) to run on more machines behind a load balancer.
``REGISTRY_PUBLIC_URL`` defaults to the address served.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from common import queues
from common.leases import backoff
from registry_site.prepare import prepare

# A child that ran this long without exiting is healthy again: its next restart
# waits the shortest delay.
STABLE_AFTER = 60.0
RESTART_BASE = 1.0
RESTART_MAX = 30.0
# Ctrl-C: SIGTERM to every child, SIGKILL to what is left after this many seconds.
STOP_GRACE = 8.0

# Seconds an idle keep-alive connection stays open. Longer than the idle timeout of
# the load balancers in front (commonly 60 s, at most 75 s), so the server never
# closes a connection the balancer is about to reuse (gunicorn's default is 2 s).
KEEP_ALIVE = 90


def web_command(
    host: str,
    port: int,
    *,
    workers: int = 2,
    threads: int = 8,
    keep_alive: int = KEEP_ALIVE,
    app: str = "registry_site.wsgi:application",
) -> list[str]:
    """The gunicorn web server, as `make run` and production start it (``app``
    ``registry_site.wsgi:serving_application`` for a serving-only process)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        _bind_address(host, port),
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--keep-alive",
        str(keep_alive),
        "--timeout",
        "600",
        "--graceful-timeout",
        "10",
        "--access-logfile",
        "-",
    ]


def worker_command(
    schedule: str | None,
    lanes: tuple[str | None, ...] = queues.ALL,
    *,
    name: str = "worker",
    environ: Mapping[str, str] = os.environ,
) -> list[str]:
    """A Celery worker consuming the queues of ``lanes`` (None: the default queue), in
    that order; with the beat scheduler (the periodic reconcilers) when ``schedule``
    names its file. The defaults: one worker for everything, as `make worker` runs."""
    prefix = environ.get("CELERY_QUEUE") or queues.DEFAULT
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "registry_site",
        "worker",
        "--queues",
        queues.consumed(prefix, lanes),
        "--hostname",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--concurrency",
        "1",
        "--without-mingle",
        "--without-gossip",
    ]
    if schedule is not None:
        command += ["--beat", "--schedule", schedule]
    return command


@dataclass
class Child:
    """One supervised process: its command, and when it may be started again."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = field(default=0.0)


class Supervisor:
    """Start the children, restart any that exits (with back-off), stop them all.

    Each child runs in its own session so that stopping it reaches its own children
    too (gunicorn's and Celery's worker processes)."""

    def __init__(
        self,
        children: list[Child],
        env: Mapping[str, str],
        *,
        out: TextIO = sys.stdout,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.children, self.env, self.out, self.clock = children, dict(env), out, clock

    def say(self, text: str) -> None:
        print(f"[launcher] {text}", file=self.out, flush=True)

    def start(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.command, env=self.env, start_new_session=True
        )
        child.started_at, child.restart_at = self.clock(), None

    def tick(self) -> None:
        """Notice children that exited and (re)start those whose back-off is over."""
        now = self.clock()
        for child in self.children:
            if child.process is not None and child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    continue
                # What it started (a worker's pool processes) goes with it, or a
                # killed worker would leave them running beside its successor.
                _signal_group(child, signal.SIGKILL)
                ran = now - child.started_at
                child.failures = 1 if ran >= STABLE_AFTER else child.failures + 1
                delay = min(backoff(child.failures, base=RESTART_BASE), RESTART_MAX)
                child.restart_at = now + delay
                self.say(
                    f"{child.name} exited with code {code} after {ran:.0f} s; "
                    f"restarting it in {delay:.0f} s"
                )
            if child.restart_at is not None and now >= child.restart_at:
                if child.process is not None:
                    self.say(f"restarting {child.name}")
                self.start(child)

    def run(self, stopping: Callable[[], bool], interval: float = 0.2) -> None:
        while not stopping():
            self.tick()
            time.sleep(interval)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM every child (which stops its own workers); SIGKILL its whole process
        group after ``grace``, so nothing it started is left behind."""
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.terminate()
        deadline = time.monotonic() + grace
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop within {grace:.0f} s; killing it")
            _signal_group(child, signal.SIGKILL)
        for child in running:
            assert child.process is not None
            child.process.wait(timeout=5)


def _signal_group(child: Child, signum: int) -> None:
    assert child.process is not None
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(child.process.pid, signum)


def public_url(host: str, port: int) -> str:
    """The address links should use when the server listens on ``host:port``."""
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - naming the wildcard, not binding it
        host = socket.getfqdn()
    return f"http://{_bind_address(host, port)}"


def child_environment(
    host: str, port: int, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The environment of the server and worker: ``REGISTRY_PUBLIC_URL`` defaults to
    the address served, so links follow ``make run PORT=...``."""
    env = dict(environ)
    if not env.get("REGISTRY_PUBLIC_URL"):
        env["REGISTRY_PUBLIC_URL"] = public_url(host, port)
    return env


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2"))
    )
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8"))
    )
    parser.add_argument(
        "--keep-alive",
        type=int,
        default=int(os.environ.get("WEB_KEEP_ALIVE", str(KEEP_ALIVE))),
        help="seconds an idle connection is kept open (default %(default)s)",
    )
    parser.add_argument(
        "--only",
        choices=["web", "workers", "serve"],
        help="run only the web server, only the workers (with the beat scheduler), "
        "or only a serving process (predictions, no UI or API)",
    )
    return parser


def children(args: argparse.Namespace, data_dir: str) -> list[Child]:
    web = web_command(
        args.host,
        args.port,
        workers=args.workers,
        threads=args.threads,
        keep_alive=args.keep_alive,
        app=(
            "registry_site.wsgi:serving_application"
            if args.only == "serve"
            else "registry_site.wsgi:application"
        ),
    )
    if args.only == "serve":
        return [Child("serving process", web)]
    found = [] if args.only == "workers" else [Child("web server", web)]
    if args.only != "web":
        # Two workers, so that deployments never wait behind artifact checks, webhook
        # deliveries or e-mail: one for deployments and the control work (with the
        # beat scheduler), one for the rest.
        schedule = os.path.join(data_dir, "celerybeat-schedule")
        deploy = worker_command(schedule, ("deployments", None), name="deployments")
        background = worker_command(
            None, ("checks", "email", "webhooks"), name="background"
        )
        found += [Child("worker", deploy), Child("background worker", background)]
    return found


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data_dir = str(prepare())
    supervisor = Supervisor(
        children(args, data_dir), child_environment(args.host, args.port)
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"Model Registry at {public_url(args.host, args.port)}/  (Ctrl-C stops it)",
        flush=True,
    )
    try:
        supervisor.run(lambda: stopping)
    finally:
        supervisor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
