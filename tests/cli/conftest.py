from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.services import token_issue
from tests import models as real_models
from tests.cli.helpers import MODELREG
from tests.helpers import SAMPLE
from tests.server import BreakingProxy


@pytest.fixture
def cli(web_server: Any, contributor: Any) -> Any:
    """Runs ``modelreg`` as a contributor's pipeline would, against the real server
    (or ``url=``, e.g. a proxy in front of it)."""
    _, key = token_issue(user=contributor, scopes=["read", "write", "invoke"])
    env = {**os.environ, "MODELREG_URL": web_server.url, "MODELREG_TOKEN": key}

    def run(
        *args: str, url: str | None = None, timeout: float = 120, **popen: Any
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [MODELREG, *args],
            env={**env, "MODELREG_URL": url or web_server.url},
            capture_output=not popen,
            text=True,
            timeout=timeout,
            check=False,
            **popen,
        )

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [MODELREG, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    run.start = start  # type: ignore[attr-defined]
    return run


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    model = tmp_path / "iris.onnx"
    model.write_bytes(real_models.iris_onnx())
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": real_models.iris_accuracy()}))
    payload = tmp_path / "input.json"
    payload.write_text(json.dumps({"inputs": SAMPLE}))
    return {"model": str(model), "metrics": str(metrics), "input": str(payload)}


@pytest.fixture
def breaking_proxy(web_server: Any) -> Iterator[Callable[..., BreakingProxy]]:
    """A proxy in front of the real server that breaks its first connections."""
    proxies: list[BreakingProxy] = []

    def make(*plan: str) -> BreakingProxy:
        proxies.append(BreakingProxy(web_server.port, list(plan)))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()
