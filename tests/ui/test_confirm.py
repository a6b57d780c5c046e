"""Production-changing actions name their consequence and ask first (issue 14, item 1).

Without JavaScript the server asks on a page of its own; the dialog that asks with
JavaScript is in tests/ui/test_browser_decisions.py.
"""

from __future__ import annotations

import pytest

from approvals.models import Review
from deployments import selectors
from deployments.models import Deployment
from tests.ui.helpers import served
from tests.ui.test_query_counts import queries

pytestmark = pytest.mark.django_db
V2 = "/models/iris/versions/2/"
REVOKE = "/models/iris/versions/2/revoke/"


def test_an_approved_version_offers_revoke_approval_naming_the_rollback(
    browser_for, reviewer, live
):
    html = browser_for(reviewer).get(V2).content.decode()

    assert ">Revoke approval</button>" in html
    assert 'formaction="/models/iris/versions/2/revoke/"' in html
    assert ">Reject</button>" not in html
    assert "<li>iris-prod will roll back from v2 to v1.</li>" in html


def test_revoking_asks_first_and_changes_nothing(browser_for, reviewer, live, v2):
    response = browser_for(reviewer).post(
        REVOKE, {"decision": "reject", "comment": "leaks labels", "next": V2}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Revoke the approval of iris v2?" in html
    assert "iris-prod will roll back from v2 to v1." in html
    assert "Your reason: leaks labels" in html
    assert f'<a class="button" href="{V2}">Cancel</a>' in html
    v2.refresh_from_db()
    assert v2.approval_status == "Approved"
    assert not Review.objects.filter(decision="reject").exists()


def test_a_reject_on_an_approved_version_is_sent_to_the_confirmation(
    browser_for, reviewer, live, v2
):
    response = browser_for(reviewer).post(
        "/models/iris/versions/2/review/", {"decision": "reject", "comment": "no"}
    )

    assert response.status_code == 307
    assert response["Location"] == REVOKE
    v2.refresh_from_db()
    assert v2.approval_status == "Approved"


def test_a_confirmed_revocation_says_what_happens_to_each_endpoint(
    browser_for, reviewer, live, v2
):
    response = browser_for(reviewer).post(
        REVOKE,
        {"decision": "reject", "comment": "leaks labels", "confirm": "1"},
        follow=True,
    )

    v2.refresh_from_db()
    assert v2.approval_status == "Rejected"
    assert (
        b"Revoked the approval of iris v2: iris-prod is rolling back to v1."
        in response.content
    )


def test_revoking_the_only_version_that_served_says_it_stops(
    browser_for, reviewer, endpoint, v1, approve
):
    served(endpoint, approve(v1, reviewer))

    html = browser_for(reviewer).get("/models/iris/versions/1/").content.decode()

    assert "iris-prod will stop serving (it serves v1 now)." in html


def test_revoking_needs_a_reason(browser_for, reviewer, live, v2):
    response = browser_for(reviewer).post(
        REVOKE, {"decision": "reject", "comment": " "}, follow=True
    )

    assert b"Say why in the comment to revoke the approval." in response.content
    v2.refresh_from_db()
    assert v2.approval_status == "Approved"


def test_a_viewer_cannot_revoke(browser_for, viewer, live, v2):
    response = browser_for(viewer).post(
        REVOKE, {"decision": "reject", "comment": "x", "confirm": "1"}
    )

    assert response.status_code == 403
    v2.refresh_from_db()
    assert v2.approval_status == "Approved"


def test_the_plan_agrees_with_what_the_revocation_does(
    reviewer, live, v2, django_capture_on_commit_callbacks
):
    from approvals.services import review_submit
    from deployments import services

    plan = selectors.revocation_plan(v2)
    review_submit(actor=reviewer, version=v2, decision="reject", comment="x")
    services.on_version_rejected(0, v2)

    deployment = Deployment.objects.latest("id")
    assert [(s.endpoint, s.target) for s in plan] == [
        ("iris-prod", deployment.version.version)
    ]
    assert deployment.reason == "revocation"


def test_queued_deployments_of_the_version_are_named(
    browser_for, reviewer, live, v2, deployer, make_user
):
    from deployments import services

    other = services.endpoint_create(
        actor=deployer, name="iris-canary", group=live.group, auto_deploy=False
    )
    services.deployment_request(actor=deployer, endpoint=other, version_number=2)

    plan = [s.will for s in selectors.revocation_plan(v2)]

    assert plan == [
        "iris-prod will roll back from v2 to v1",
        "The queued deployment to iris-canary will be cancelled",
    ]


def test_the_version_page_costs_the_same_with_many_endpoints_to_roll_back(
    browser_for, reviewer, live, v2, deployer
):
    from deployments.models import Endpoint

    client = browser_for(reviewer)
    one = queries(client, V2)
    v1 = v2.group.versions.get(version=1)
    for number in range(5):
        endpoint = Endpoint.objects.create(
            name=f"ep-{number}", group=live.group, created_by=deployer
        )
        served(endpoint, v1)
        served(endpoint, v2)

    assert queries(client, V2) == one <= 20
