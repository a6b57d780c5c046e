from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accounts.services import token_issue

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")


@pytest.fixture
def as_user(web_server: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """A stock ``MlflowClient`` pointed at the real server, signed in as ``user``:
    with a token of ``scopes`` (Bearer), or with ``password`` (Basic)."""
    from mlflow import MlflowClient

    def make(
        user: Any, *, scopes: list[str] | None = None, password: str | None = None
    ) -> Any:
        for name in (
            "MLFLOW_TRACKING_TOKEN",
            "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD",
        ):
            monkeypatch.delenv(name, raising=False)
        if password is not None:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user.username)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        elif user is not None:
            _, key = token_issue(user=user, scopes=scopes or ["read", "write"])
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
        return MlflowClient(tracking_uri=web_server.url, registry_uri=web_server.url)

    return make


@pytest.fixture
def mlflow(as_user: Callable[..., Any], contributor: Any) -> Iterator[Any]:
    """The stock client as a contributor's pipeline (token with read and write)."""
    yield as_user(contributor)
