"""Endpoint pages: live version, deployment history that polls, rollback, try it."""

from __future__ import annotations

import json
import re

import pytest

from deployments.models import Deployment, DeploymentStatus
from tests.helpers import SAMPLE
from tests.ui.helpers import served

pytestmark = pytest.mark.django_db
PAGE = "/endpoints/iris-prod/"
PANEL = "/endpoints/iris-prod/panel/"


def test_the_endpoint_list_shows_live_versions_and_latest_deployment(
    browser_for, viewer, live
):
    html = browser_for(viewer).get("/endpoints/").content.decode()

    row = html.split('href="/endpoints/iris-prod/"')[1].split("</tr>")[0]
    assert 'href="/models/iris/versions/2/">v2</a>' in row
    assert "Succeeded" in row
    assert "2 in all" in row


def test_the_endpoint_page_shows_the_live_version_and_history(
    browser_for, viewer, live
):
    html = browser_for(viewer).get(PAGE).content.decode()

    assert re.search(
        r'data-testid="live-version">\s*<a href="/models/iris/versions/2/">v2', html
    )
    assert re.findall(r'data-status="(\w+)"', html) == ["Succeeded", "Succeeded"]
    assert "endpoint now serves v2" in html  # the log


def test_a_failed_deployment_shows_its_error_and_log(
    browser_for, viewer, endpoint, v1, approve, reviewer
):
    served(
        endpoint,
        approve(v1, reviewer),
        status=DeploymentStatus.FAILED,
        error="warm-up input does not fit the model",
        log=["12:00 loading", "12:01 failed: warm-up input does not fit the model"],
    )

    html = browser_for(viewer).get(PAGE).content.decode()

    assert '<p class="alert error">warm-up input does not fit the model</p>' in html
    assert "<details open>" in html
    assert "12:00 loading\n12:01 failed" in html
    assert "Nothing is live yet." in html


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("viewer", False),
        ("contributor", False),
        ("reviewer", False),
        ("deployer", True),
        ("admin", True),
    ],
)
def test_only_deployers_see_rollback_and_deploy(
    browser_for, persona, live, role, shown
):
    html = browser_for(persona(role)).get(PAGE).content.decode()

    assert (">Roll back to v1</button>" in html) is shown
    assert ("iris-prod will roll back from v2 to v1." in html) is shown
    assert ('action="/endpoints/iris-prod/deploy/"' in html) is shown


def test_a_rollback_asks_first_naming_the_target(browser_for, deployer, live):
    response = browser_for(deployer).post("/endpoints/iris-prod/rollback/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Roll back to v1 on iris-prod?" in html
    assert "iris-prod will roll back from v2 to v1." in html
    assert '<a class="button" href="/endpoints/iris-prod/">Cancel</a>' in html
    assert Deployment.objects.count() == 2


def test_a_deployer_rolls_back(browser_for, deployer, live):
    response = browser_for(deployer).post(
        "/endpoints/iris-prod/rollback/", {"confirm": "1"}, follow=True
    )

    deployment = Deployment.objects.latest("id")
    assert (deployment.reason, deployment.version.version) == ("rollback", 1)
    assert deployment.requested_by == deployer
    assert b"Deployment queued: iris-prod is rolling back to v1." in response.content


def test_a_move_to_a_newer_version_is_a_switch_not_a_rollback(
    browser_for, deployer, live, reviewer
):
    v1 = live.group.versions.get(version=1)
    served(live, v1, reason="manual")  # v2 served, then v1 by hand

    html = browser_for(deployer).get(PAGE).content.decode()

    assert ">Switch to v2</button>" in html
    assert "iris-prod will switch from v1 to v2." in html
    assert "Roll back" not in html


def test_rollback_without_an_earlier_version_is_explained(
    browser_for, deployer, endpoint, v1, approve, reviewer
):
    served(endpoint, approve(v1, reviewer))
    client = browser_for(deployer)

    html = client.get(PAGE).content.decode()
    response = client.post("/endpoints/iris-prod/rollback/", follow=True)

    assert "No earlier approved version to roll back to." in html
    assert b"has no earlier Approved version that served" in response.content


def test_a_forged_rollback_is_refused(browser_for, reviewer, live):
    response = browser_for(reviewer).post("/endpoints/iris-prod/rollback/")

    assert response.status_code == 403
    assert Deployment.objects.count() == 2


def test_a_deployer_deploys_an_approved_version(browser_for, deployer, live):
    client = browser_for(deployer)
    asked = client.post("/endpoints/iris-prod/deploy/", {"version": "1"})
    assert "iris-prod will roll back from v2 to v1." in asked.content.decode()
    assert Deployment.objects.count() == 2

    response = client.post(
        "/endpoints/iris-prod/deploy/", {"version": "1", "confirm": "1"}, follow=True
    )

    deployment = Deployment.objects.latest("id")
    assert (deployment.reason, deployment.status) == ("manual", "Queued")
    assert b"Deployment queued: iris-prod is rolling back to v1." in response.content


def test_the_deploy_select_marks_the_live_version(browser_for, deployer, live):
    html = browser_for(deployer).get(PAGE).content.decode()

    assert re.search(
        r'<option value="2" data-will="iris-prod will load v2 again"', html
    )
    assert ">v2 (live)</option>" in html
    assert 'data-verb="Roll back to v1">v1</option>' in html


def test_deploying_a_pending_version_is_refused_with_a_message(
    browser_for, deployer, endpoint, v2, approve, reviewer
):
    approve(v2.group.versions.get(version=1), reviewer)

    response = browser_for(deployer).post(
        "/endpoints/iris-prod/deploy/", {"version": "2"}, follow=True
    )

    assert b"only Approved versions can be deployed" in response.content
    assert not Deployment.objects.exists()


# --- Live status -----------------------------------------------------------------------


def panel_url(html: str) -> str:
    return re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")


def test_the_panel_polls_every_second_while_a_deployment_runs(
    browser_for, viewer, live
):
    Deployment.objects.create(
        endpoint=live, version=live.live_version, reason="manual", status="Running"
    )

    html = browser_for(viewer).get(PAGE).content.decode()

    assert 'hx-trigger="every 1s"' in html
    assert "in progress" in html


def test_the_panel_polls_slowly_when_idle(browser_for, viewer, live):
    html = browser_for(viewer).get(PAGE).content.decode()

    assert 'hx-trigger="every 5s"' in html


def test_the_panel_answers_204_until_something_changes(browser_for, viewer, live):
    client = browser_for(viewer)
    url = panel_url(client.get(PAGE).content.decode())

    unchanged = client.get(url)
    Deployment.objects.filter(pk=Deployment.objects.latest("id").pk).update(
        status="Failed", error="boom"
    )
    changed = client.get(url)

    assert unchanged.status_code == 204
    assert changed.status_code == 200
    assert b'data-status="Failed"' in changed.content
    assert changed.content.lstrip().startswith(b'<section id="panel"')
    assert panel_url(changed.content.decode()) != url


# --- Try it --------------------------------------------------------------------------------


def test_try_it_is_prefilled_with_the_sample_payload(browser_for, viewer, live):
    html = browser_for(viewer).get(PAGE).content.decode()

    assert json.dumps({"inputs": SAMPLE}).replace('"', "&quot;") in html


def test_try_it_shows_the_prediction_of_the_live_version(browser_for, viewer, live):
    response = browser_for(viewer).post(
        "/endpoints/iris-prod/try/",
        {"body": json.dumps({"inputs": SAMPLE})},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Answered by <strong>v2</strong>" in html
    assert "probabilities" in html
    assert "<html" not in html  # a fragment for htmx


def test_try_it_sends_the_sample_when_the_body_is_empty(browser_for, viewer, live):
    response = browser_for(viewer).post("/endpoints/iris-prod/try/", {"body": ""})

    assert response.status_code == 200
    assert b"Answered by <strong>v2</strong>" in response.content
    assert b"<html" in response.content  # a whole page without JavaScript


def test_try_it_explains_bad_inputs(browser_for, viewer, live):
    response = browser_for(viewer).post(
        "/endpoints/iris-prod/try/", {"body": '{"inputs": [[1, 2]]}'}
    )

    assert response.status_code == 400
    assert b'data-testid="prediction-error"' in response.content


def test_try_it_explains_malformed_json(browser_for, viewer, live):
    response = browser_for(viewer).post(
        "/endpoints/iris-prod/try/", {"body": "{"}, HTTP_HX_REQUEST="true"
    )

    assert b"Not valid JSON" in response.content


def test_try_it_on_an_endpoint_that_serves_nothing(browser_for, viewer, endpoint, v1):
    response = browser_for(viewer).post(
        "/endpoints/iris-prod/try/", {"body": json.dumps({"inputs": SAMPLE})}
    )

    assert response.status_code == 503
    assert b"has no deployed version yet" in response.content


# --- One vocabulary, superseded folded, queued explained (issue 14, item 9) -----------


def test_superseded_deployments_fold_into_a_count(browser_for, viewer, live):
    v1 = live.group.versions.get(version=1)
    for _ in range(3):
        served(live, v1, status=DeploymentStatus.SUPERSEDED)

    html = browser_for(viewer).get(PAGE).content.decode()

    table, folded = html.split('data-testid="superseded"')
    assert 'data-status="Superseded"' not in table
    assert "<summary>3 superseded</summary>" in folded
    assert folded.count('data-status="Superseded"') == 3


def test_a_queued_deployment_says_what_it_waits_for(browser_for, viewer, live):
    v1 = live.group.versions.get(version=1)
    running = Deployment.objects.create(
        endpoint=live, version=v1, reason="manual", status=DeploymentStatus.RUNNING
    )
    Deployment.objects.create(endpoint=live, version=v1, reason="manual")

    html = browser_for(viewer).get(PAGE).content.decode()

    assert f"waits for #{running.pk} to finish" in html


def test_no_earlier_version_is_said_only_when_there_is_none(
    browser_for, deployer, endpoint, v2, approve, reviewer
):
    approve(v2.group.versions.get(version=1), reviewer)
    served(endpoint, approve(v2, reviewer))  # v1 approved but never served here

    html = browser_for(deployer).get(PAGE).content.decode()

    assert "No earlier approved version" not in html
    assert "No other approved version has served here yet" in html
