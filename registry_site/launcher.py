"""Run the web server and a Celery worker (with its beat scheduler) together.

``python -m registry_site.launcher --host 127.0.0.1 --port 8000``: Ctrl-C stops both;
if either exits, the other is stopped too.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time


def _commands(host: str, port: int, workers: int, threads: int) -> list[list[str]]:
    python = sys.executable
    data_dir = os.environ.get("REGISTRY_DATA_DIR", "data")
    web = [
        python,
        "-m",
        "gunicorn",
        "registry_site.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "600",
        "--graceful-timeout",
        "10",
        "--access-logfile",
        "-",
    ]
    return [web, worker_command(os.path.join(data_dir, "celerybeat-schedule"))]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2"))
    )
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8"))
    )
    args = parser.parse_args(argv)
    children = [
        subprocess.Popen(cmd)
        for cmd in _commands(args.host, args.port, args.workers, args.threads)
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"Model Registry at http://{args.host}:{args.port}/  (Ctrl-C stops it)",
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
