"""The web UI in a real browser (headless Chromium) against a live server, with the
real Celery worker on Redis deploying what reviewers approve. The browser fixtures
(``chromium``, ``open_page``) are in tests/ui/conftest.py.

Chromium is Debian's package (scripts/system_packages.sh installs it); outside CI these tests
skip with a printed reason when it is missing. On failure each open page is saved as
a screenshot under test-artifacts/ and its path printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from accounts.services import token_issue
from approvals import policies
from catalog.models import ModelGroup, ModelVersion
from deployments import services as deploy
from deployments.models import Deployment, Endpoint
from tests import models as real_models
from tests.helpers import SAMPLE

pytestmark = pytest.mark.django_db(transaction=True)


class Api:
    """A CI pipeline: the REST API over HTTP with a contributor's token."""

    def __init__(self, base: str, user: Any):
        self.base = f"{base}/api/v1"
        _, key = token_issue(user=user, name="ci")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {key}"

    def group(self, name: str) -> None:
        response = self.session.post(
            f"{self.base}/model-groups/", json={"name": name}, timeout=30
        )
        assert response.status_code == 201, response.text

    def register(self, group: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("sample_payload", {"inputs": SAMPLE})
        response = self.session.post(
            f"{self.base}/model-groups/{group}/versions/",
            files={"artifact": ("iris.onnx", real_models.iris_onnx())},
            data={k: json.dumps(v) for k, v in fields.items()},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def api(web_server: Any, make_user: Callable[..., Any]) -> Api:
    """The API, on the server `make run` starts, as a contributor who is also a
    reviewer (to test self-approval)."""
    return Api(web_server.url, make_user("contributor", "reviewer", username="ci-bot"))


def test_a_version_registered_through_the_api_appears_in_the_catalog(
    open_page, api, viewer
):
    api.group("iris")
    api.register("iris", metrics={"accuracy": 0.93})

    page = open_page(viewer)

    row = page.locator('tr[data-group="iris"]')
    row.wait_for()
    assert "v1" in row.inner_text()
    assert "Pending review" in row.inner_text()
    page.get_by_role("link", name="iris", exact=True).click()
    assert page.locator('tr[data-version="1"]').is_visible()


def test_a_reviewer_approves_from_the_inbox_and_the_endpoint_deploys_it_live(
    worker, open_page, api, make_user, viewer
):
    deployer = make_user("deployer")
    api.group("iris")
    deploy.endpoint_create(
        actor=deployer, name="iris-prod", group=ModelGroup.objects.get(name="iris")
    )
    api.register("iris", metrics={"accuracy": 0.93})
    watcher = open_page(viewer)
    watcher.goto("/endpoints/iris-prod/")
    watcher.evaluate("window.__loadedOnce = true")
    assert "Nothing is live yet." in watcher.locator("#panel").inner_text()

    # 2. A reviewer signs in, finds the version in the inbox, approves it with a comment.
    reviewer = open_page(make_user("reviewer"))
    reviewer.get_by_role("link", name=re.compile("^Reviews")).click()
    item = reviewer.locator('[data-testid="inbox-iris-1"]')
    item.get_by_text("Add a comment").click()  # the comment box opens on demand
    item.get_by_label("Comment").fill("Accuracy is fine; ship it.")
    item.get_by_role("button", name="Approve").click()
    reviewer.get_by_text("Approve recorded on iris v1; it is Approved.").wait_for()
    assert reviewer.locator('[data-testid="inbox-iris-1"]').count() == 0

    # 3. The endpoint page shows the deployment reach Succeeded, without a reload.
    watcher.locator('tr[data-status="Succeeded"]').wait_for(timeout=60_000)
    assert watcher.evaluate("window.__loadedOnce") is True
    assert "v1" in watcher.locator('[data-testid="live-version"]').inner_text()
    deployment = Deployment.objects.get()
    assert deployment.status == "Succeeded", worker.log_tail()

    # 4. "Try it" sends the version's sample payload and shows the prediction.
    watcher.get_by_role("button", name="Send").click()
    prediction = watcher.locator('[data-testid="prediction"]')
    prediction.wait_for()
    assert "Answered by v1" in prediction.inner_text()
    outputs = json.loads(prediction.locator("pre").inner_text())
    assert len(outputs["probabilities"]) == len(SAMPLE)
    assert watcher.evaluate("window.__loadedOnce") is True


def test_the_registrant_cannot_approve_their_own_version(open_page, api):
    api.group("iris")
    api.register("iris")
    registrant = open_page(ModelVersion.objects.get().created_by)

    registrant.goto("/models/iris/versions/1/")
    review = registrant.locator('[data-testid="review-iris-1"]')

    assert review.get_by_role("button", name="Approve").count() == 0
    assert review.get_by_role("button", name="Reject").is_visible()
    version = ModelVersion.objects.select_related("group").get()
    reason = policies.self_approval_refused(
        version.created_by, version, policies.policy_for(version.group)
    )
    assert reason in review.inner_text()
    status = registrant.evaluate(
        """async () => {
            const form = document.querySelector("form.review-form");
            const body = new URLSearchParams(new FormData(form));
            body.set("decision", "approve");
            const response = await fetch(form.action, {method: "POST", body});
            return response.status;
        }"""
    )
    assert status == 403
    assert ModelVersion.objects.get().approval_status == "PendingManualApproval"


def test_compare_two_versions_with_differences_only(open_page, api, viewer):
    api.group("iris")
    api.register("iris", metrics={"accuracy": 0.90, "f1": 0.8})
    api.register("iris", metrics={"accuracy": 0.95, "f1": 0.8})
    page = open_page(viewer)

    page.goto("/models/iris/")
    page.get_by_label("Compare v1").check()
    page.get_by_label("Compare v2").check()
    page.get_by_role("button", name="Compare selected").click()
    assert page.locator('tr[data-row="Summary:Format"]').is_visible()
    page.locator(".chart canvas").first.wait_for()  # the bar chart drew

    page.get_by_label("Differences only").check()
    page.wait_for_url(re.compile(r"diff=1"))

    assert page.locator('tr[data-row="Summary:Format"]').count() == 0
    assert page.locator('tr[data-row="Metrics:f1"]').count() == 0
    accuracy = page.locator('tr[data-row="Metrics:accuracy"]').inner_text()
    assert "0.9" in accuracy
    assert "0.95" in accuracy


def test_pages_fit_a_phone(open_page, api, viewer):
    api.group("iris")
    api.register("iris")
    page = open_page(viewer, width=390)

    for path in ("/", "/models/iris/", "/models/iris/versions/1/", "/endpoints/"):
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"


def test_pages_run_under_the_content_security_policy_without_errors(
    open_page, api, make_user
):
    """The vendored scripts, the charts, htmx, the admin and the API docs all work
    under the strict policy: the browser reports no violation and no script error."""
    api.group("iris")
    api.register("iris", metrics={"accuracy": 0.90, "f1": 0.8})
    api.register("iris", metrics={"accuracy": 0.95, "f1": 0.8})
    deploy.endpoint_create(
        actor=make_user("deployer"),
        name="iris-prod",
        group=ModelGroup.objects.get(name="iris"),
    )
    page = open_page(make_user("admin", is_staff=True, is_superuser=True))
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    ready = {
        "/models/iris/": ".chart canvas",
        "/models/iris/compare/?versions=1,2": ".chart canvas",
        "/endpoints/iris-prod/": "#panel",
        "/api/docs/": ".swagger-ui .info",
        "/admin/catalog/modelversion/": "#result_list",
    }
    paths = [
        "/",
        "/models/iris/versions/1/",
        "/reviews/",
        "/activity/",
        "/account/tokens/",
        "/account/access-keys/",
        "/accounts/login/",
        "/admin/",
        *ready,
    ]

    for path in paths:
        response = page.goto(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        if path in ready:
            page.locator(ready[path]).first.wait_for()
        page.wait_for_load_state("load")
        if path.startswith("/endpoints/"):
            assert page.evaluate("typeof htmx") == "object"

    assert not errors, errors


def test_a_deployer_sets_a_ray_endpoints_replicas_on_its_page(
    open_page, api, make_user
):
    api.group("iris")
    deployer = make_user("deployer")
    deploy.endpoint_create(
        actor=deployer,
        name="iris-ray",
        group=ModelGroup.objects.get(name="iris"),
        target="ray",
    )
    page = open_page(deployer)
    page.goto("/endpoints/iris-ray/")

    page.get_by_label("Autoscaling: at most").fill("3")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved: Autoscaling: at most.").wait_for()
    assert page.get_by_label("Autoscaling: at most").input_value() == "3"
    assert "autoscaling 1 to 3" in page.locator('[data-testid="ray"]').inner_text()

    page.get_by_label("CPUs per replica").fill("100")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator(".field-error")
    error.wait_for()
    assert "at most 64" in error.inner_text()
    endpoint = Endpoint.objects.get(name="iris-ray")
    assert (endpoint.ray_max_replicas, endpoint.ray_num_cpus) == (3, 0.25)
