"""Decisions in a real browser (headless Chromium, issue 14): production-changing
actions ask in a dialog naming their consequence, Cancel changes nothing, the
confirmation also works without JavaScript, and the token page never mints a
token on reload. Harness and skip rules: tests/ui/conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.models import ApiToken
from approvals.models import Review
from approvals.services import review_submit
from catalog import services as catalog_services
from catalog.models import ModelVersion
from deployments import services as deploy
from deployments.models import Deployment, Endpoint
from tests.ui.helpers import register, served

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def iris_live(make_user: Any) -> Endpoint:
    """iris v1 served on iris-prod, then v2: v2 is live, v1 the fallback. The
    deployments are written here (``served``): the endpoint does not deploy on
    approval, or the session's real worker would deploy too, in its own order."""
    contributor = make_user("contributor")
    checker = make_user("reviewer")
    group = catalog_services.group_create(actor=contributor, name="iris")
    endpoint = deploy.endpoint_create(
        actor=make_user("deployer"), name="iris-prod", group=group, auto_deploy=False
    )
    for metrics in ({"accuracy": 0.90}, {"accuracy": 0.95}):
        version = register(contributor, group, metrics=metrics)
        review_submit(actor=checker, version=version, decision="approve")
        served(endpoint, version)
    return endpoint


def status(number: int) -> str:
    return ModelVersion.objects.get(group__name="iris", version=number).approval_status


def test_revoking_a_live_version_asks_naming_the_rollback_and_cancel_changes_nothing(
    open_page, iris_live, make_user
):
    page = open_page(make_user("reviewer"))
    page.goto("/models/iris/versions/2/")
    page.get_by_label("Comment").fill("It leaks the labels.")

    page.get_by_role("button", name="Revoke approval").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "iris-prod will roll back from v2 to v1." in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()

    assert not dialog.is_visible()
    assert status(2) == "Approved"
    assert not Review.objects.filter(decision="reject").exists()

    page.get_by_role("button", name="Revoke approval").click()
    dialog.get_by_role("button", name="Revoke approval").click()
    page.get_by_text(
        "Revoked the approval of iris v2: iris-prod is rolling back to v1."
    ).wait_for()
    assert status(2) == "Rejected"


def test_revoking_without_javascript_asks_on_a_page(open_page, iris_live, make_user):
    page = open_page(make_user("reviewer"), java_script_enabled=False)
    page.goto("/models/iris/versions/2/")
    page.get_by_label("Comment").fill("It leaks the labels.")

    page.get_by_role("button", name="Revoke approval").click()
    page.get_by_role("heading", name="Revoke the approval of iris v2?").wait_for()
    assert "iris-prod will roll back from v2 to v1." in page.inner_text("main")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url("**/models/iris/versions/2/")
    assert status(2) == "Approved"

    page.get_by_label("Comment").fill("It leaks the labels.")
    page.get_by_role("button", name="Revoke approval").click()
    page.get_by_role("button", name="Revoke approval").click()
    page.get_by_text("iris-prod is rolling back to v1").wait_for()
    assert status(2) == "Rejected"


def test_rollback_and_deploy_ask_naming_their_target(open_page, iris_live, make_user):
    page = open_page(make_user("deployer"))
    page.goto("/endpoints/iris-prod/")
    before = Deployment.objects.count()

    page.get_by_role("button", name="Roll back to v1").click()
    dialog = page.locator("#rollback-dialog")
    assert "iris-prod will roll back from v2 to v1." in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert Deployment.objects.count() == before

    page.get_by_label("Approved version").select_option("1")
    page.get_by_role("button", name="Deploy", exact=True).click()
    dialog = page.locator("#deploy-dialog")
    assert "iris-prod will roll back from v2 to v1." in dialog.inner_text()
    dialog.get_by_role("button", name="Roll back to v1").click()
    page.get_by_text("Deployment queued: iris-prod is rolling back to v1.").wait_for()
    assert Deployment.objects.count() == before + 1


def test_a_reload_after_creating_a_token_creates_none(open_page, make_user):
    user = make_user("reviewer")
    page = open_page(user)
    page.goto("/account/tokens/")
    assert page.locator("input[name=scopes][value=deploy]").count() == 0

    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    key = page.get_by_test_id("new-key")
    key.wait_for()
    assert page.evaluate("document.activeElement.id") == "new-key"
    assert key.input_value().startswith("mr_")
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()

    page.reload()
    assert page.get_by_test_id("new-key").count() == 0
    assert ApiToken.objects.filter(user=user).count() == 1


def test_revoking_a_token_asks_and_cancel_keeps_it(open_page, make_user):
    user = make_user("viewer")
    page = open_page(user)
    page.goto("/account/tokens/")
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    token = ApiToken.objects.get(user=user)

    page.get_by_role("button", name=f"Revoke token {token.prefix}").click()
    dialog = page.get_by_role("dialog")
    assert "Every request made with “ci”" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    token.refresh_from_db()
    assert token.revoked_at is None

    page.get_by_role("button", name=f"Revoke token {token.prefix}").click()
    dialog.get_by_role("button", name="Revoke token").click()
    page.get_by_text("is revoked").wait_for()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_reviewer_sees_the_deltas_against_the_live_version(
    open_page, iris_live, make_user
):
    register(
        make_user("contributor"),
        iris_live.group,
        metrics={"accuracy": 0.97, "latency_ms": 12.0},
    )
    page = open_page(make_user("reviewer"))

    page.goto("/reviews/")
    item = page.get_by_test_id("inbox-iris-3")
    accuracy = item.locator('tr[data-metric="accuracy"] td[data-baseline="0"]')
    assert accuracy.inner_text().startswith("0.95 +0.02 (+2.1%) ▲")
    assert "better" in accuracy.inner_text()
    assert "vs iris-prod" in item.inner_text()

    page.goto("/models/iris/versions/3/")
    page.get_by_test_id("compare-live").click()
    page.wait_for_url("**/compare/?versions=2,3")


PHONE_PAGES = (
    "/",
    "/models/iris/",
    "/models/iris/versions/2/",
    "/models/iris/versions/3/",
    "/models/iris/compare/?versions=1,2,3",
    "/reviews/",
    "/endpoints/",
    "/endpoints/iris-prod/",
    "/activity/",
    "/account/tokens/",
    "/account/access-keys/",
    "/webhooks/",
)


def test_no_page_scrolls_sideways_on_a_phone(open_page, iris_live, make_user):
    register(
        make_user("contributor"),
        iris_live.group,
        metrics={"accuracy": 0.97, "a_rather_long_metric_name_for_phones": 0.5},
        lineage={"commit": "3f2a9c1d4e5b6a7980123456789abcdef0123456"},
    )
    page = open_page(make_user("admin"), width=390)

    wide = {}
    for path in PHONE_PAGES:
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            wide[path] = overflow
    assert not wide, f"pages wider than the phone (px): {wide}"


def test_the_review_card_comes_right_under_the_version_header_on_a_phone(
    open_page, iris_live, make_user
):
    register(make_user("contributor"), iris_live.group)
    page = open_page(make_user("reviewer"), width=390)
    page.goto("/models/iris/versions/3/")

    review = page.locator("#review-h").bounding_box()
    description = page.locator("#desc-h").bounding_box()
    assert review["y"] < description["y"]


def test_charts_draw_one_small_chart_per_metric_and_a_click_opens_the_version(
    open_page, iris_live, make_user
):
    contributor = make_user("contributor")
    register(contributor, iris_live.group, metrics={"accuracy": 0.97, "loss": 120.0})
    register(contributor, iris_live.group, metrics={"loss": 80.0})
    page = open_page(make_user("viewer"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto("/models/iris/")
    page.locator('.small-chart[data-metric="accuracy"] canvas').wait_for()
    assert page.locator('.small-chart[data-metric="loss"] canvas').count() == 1
    page.get_by_label("loss", exact=True).uncheck()
    assert not page.locator('.small-chart[data-metric="loss"]').is_visible()

    chart = page.locator('.small-chart[data-metric="accuracy"] .u-over')
    box = chart.bounding_box()
    chart.click(position={"x": box["width"] - 2, "y": box["height"] / 2})
    page.wait_for_url("**/models/iris/versions/*/")

    page.goto("/models/iris/compare/?versions=1,2,3")
    page.locator(".chart canvas").first.wait_for()
    assert not errors, errors


AXE = Path(__file__).parent / "vendor" / "axe-4.12.1.min.js"
SERIOUS = {"serious", "critical"}


def test_no_page_has_serious_accessibility_violations(open_page, iris_live, make_user):
    """axe-core (vendored) on every page, as an admin who sees every button."""
    register(make_user("contributor"), iris_live.group, metrics={"accuracy": 0.97})
    page = open_page(make_user("admin"))
    script = AXE.read_text()

    found = {}
    for path in (*PHONE_PAGES, "/accounts/login/"):
        page.goto(path)
        page.evaluate(script)  # Playwright's evaluate is not subject to the page's CSP
        result = page.evaluate(
            "async () => await axe.run(document, "
            "{runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
        )
        assert result["passes"], path  # axe ran
        serious = [
            f"{v['id']}: {v['nodes'][0]['target']}"
            for v in result["violations"]
            if v["impact"] in SERIOUS
        ]
        if serious:
            found[path] = serious
    assert not found, found
