"""Run the web server and a Celery worker (with its beat scheduler) together.

``python -m registry_site.launcher --host 127.0.0.1 --port 8000``: Ctrl-C stops both;
if either exits, the other is stopped too. ``--only web`` runs the web server alone
(``make web``). ``REGISTRY_PUBLIC_URL`` defaults to the address served.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping

from registry_site.prepare import prepare

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
) -> list[str]:
    """The gunicorn web server, as `make run` and production start it."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "registry_site.wsgi:application",
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


def worker_command(schedule: str) -> list[str]:
    """The Celery worker with its beat scheduler (the periodic reconcilers)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "registry_site",
        "worker",
        "--beat",
        "--loglevel",
        "INFO",
        "--concurrency",
        "1",
        "--without-mingle",
        "--without-gossip",
        "--schedule",
        schedule,
    ]


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
    parser.add_argument("--only", choices=["web"], help="run only the web server")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data_dir = str(prepare())
    commands = [
        web_command(
            args.host,
            args.port,
            workers=args.workers,
            threads=args.threads,
            keep_alive=args.keep_alive,
        )
    ]
    if args.only is None:
        commands.append(worker_command(os.path.join(data_dir, "celerybeat-schedule")))
    env = child_environment(args.host, args.port)
    children = [subprocess.Popen(cmd, env=env) for cmd in commands]
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
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.3)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
