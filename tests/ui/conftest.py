"""Web UI fixtures: a signed-in browser client per persona, and a small real catalog.

Versions that pages only display are inserted in bulk (``add_versions`` in
``helpers.py``); those that
are reviewed, deployed or served are registered through the services with a real
ONNX model (``iris``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from approvals.services import review_submit
from catalog import services as catalog_services
from catalog.models import ModelGroup, ModelVersion
from deployments import services as deploy
from deployments import serving
from deployments.models import Endpoint
from tests.helpers import require_service
from tests.ui.helpers import register, served


@pytest.fixture(autouse=True)
def _fresh_serving() -> Any:
    serving.forget()
    yield
    serving.forget()


@pytest.fixture
def browser_for() -> Callable[[Any], Client]:
    """A Django test client signed in as ``user`` (anonymous for None)."""

    def make(user: Any | None, **kwargs: Any) -> Client:
        client = Client(**kwargs)
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def iris(contributor: Any) -> ModelGroup:
    return catalog_services.group_create(
        actor=contributor, name="iris", description="Iris flowers", tags={"team": "ml"}
    )


@pytest.fixture
def v1(contributor: Any, iris: ModelGroup) -> ModelVersion:
    return register(
        contributor,
        iris,
        description="first",
        model_card="# Card\n\nTrained on **iris**.",
        hyperparameters={"C": 0.1},
        lineage={"commit": "abc1234"},
        customer_metadata={"owner": "ml-team"},
        tags={"stage": "dev"},
    )


@pytest.fixture
def v2(contributor: Any, iris: ModelGroup, v1: ModelVersion) -> ModelVersion:
    return register(
        contributor,
        iris,
        description="second",
        metrics={"accuracy": 0.95, "f1": 0.88},
        hyperparameters={"C": 1.0},
    )


@pytest.fixture
def endpoint(deployer: Any, iris: ModelGroup) -> Endpoint:
    return deploy.endpoint_create(actor=deployer, name="iris-prod", group=iris)


@pytest.fixture
def approve() -> Callable[..., ModelVersion]:
    """Approve through the approvals service (no deployment runs: no commit here)."""

    def do(version: ModelVersion, reviewer: Any) -> ModelVersion:
        review_submit(actor=reviewer, version=version, decision="approve", comment="ok")
        version.refresh_from_db()
        return version

    return do


@pytest.fixture
def live(
    endpoint: Endpoint,
    v2: ModelVersion,
    approve: Callable[..., ModelVersion],
    reviewer: Any,
) -> Endpoint:
    """v1 served, then v2: iris-prod serves v2, and v1 is its fallback."""
    v1 = v2.group.versions.get(version=1)
    served(endpoint, approve(v1, reviewer))
    served(endpoint, approve(v2, reviewer))
    return endpoint


# --- A real browser (tests/ui/test_browser*.py) ---------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    require_service(os.path.exists(CHROMIUM), f"chromium ({CHROMIUM})")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests' own ORM
    # calls are plain synchronous code all the same.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()


@pytest.fixture
def open_page(
    chromium: Any, live_server: Any, request: Any, monkeypatch: Any
) -> Iterator[Callable[..., Any]]:
    """A new browser session signed in as ``user``; screenshots if the test fails."""
    # The live server answers each browser connection in a thread of its own that
    # would keep its database connection open (CONN_MAX_AGE) after the test, and
    # then the test database could not be dropped: close them after each request.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    pages: list[tuple[str, Any]] = []

    def open_(user: Any, *, width: int = 1280, **options: Any) -> Any:
        context = chromium.new_context(
            viewport={"width": width, "height": 900},
            base_url=live_server.url,
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        pages.append((user.username, page))
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill("pw")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_
    report = getattr(request.node, "report_call", None)
    for username, page in pages:
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / f"{request.node.name}-{username}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot of {username}'s page saved to {path}")
        page.context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    """Keep each phase's report on the test, so fixtures can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
