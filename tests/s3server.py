"""A real S3-compatible server (moto's, from PyPI) on loopback, for the tests of the
registry's S3 storage and of imports from allowed buckets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.server import HOST, free_port


@contextmanager
def moto_s3(folder: Path, buckets: tuple[str, ...]) -> Iterator[Any]:
    """A boto3 S3 client of a fresh moto server with ``buckets`` made; the server's
    URL is its ``url``. The server is stopped on exit."""
    port = free_port()
    log = (folder / "moto.log").open("ab")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", HOST, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
        s3.url = url  # type: ignore[attr-defined]
        yield s3
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        log.close()


def storage_env(s3: Any, bucket: str) -> dict[str, str]:
    """The settings that put the registry's artifact storage in ``bucket``."""
    return {
        "REGISTRY_S3_BUCKET": bucket,
        "REGISTRY_S3_ENDPOINT_URL": s3.url,
        "REGISTRY_S3_REGION": "us-east-1",
        "REGISTRY_S3_ACCESS_KEY_ID": "testing",
        "REGISTRY_S3_SECRET_ACCESS_KEY": "testing",
    }
