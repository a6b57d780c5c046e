"""Reviewing in the UI: who sees which button, what the verdict says, what a POST does."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.utils.html import escape

from approvals import policies
from approvals import services as approval_services
from approvals.models import Review
from tests.ui.helpers import register

pytestmark = pytest.mark.django_db
VERSION = "/models/iris/versions/1/"
REVIEW = "/models/iris/versions/1/review/"


def buttons(html: str) -> list[str]:
    return re.findall(
        r'<button type="submit" name="decision" value="\w+"[^>]*>([\w ]+)<', html
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("viewer", []),
        ("contributor", []),
        ("deployer", []),
        ("reviewer", ["Approve", "Reject", "Comment"]),
        ("admin", ["Approve", "Reject", "Comment"]),
    ],
)
def test_review_buttons_show_only_for_those_who_may_review(
    browser_for, persona, v1, role, expected
):
    html = browser_for(persona(role)).get(VERSION).content.decode()

    assert buttons(html) == expected
    assert ('<label for="comment-' in html) is bool(expected)


def test_the_registrant_does_not_see_approve_and_is_told_why(
    browser_for, make_user, iris
):
    registrant = make_user("contributor", "reviewer")
    version = register(registrant, iris)

    html = browser_for(registrant).get(VERSION).content.decode()

    reason = policies.self_approval_refused(
        registrant, version, policies.policy_for(iris)
    )
    assert buttons(html) == ["Reject", "Comment"]
    assert reason
    assert f'data-testid="review-reason">{escape(reason)}<' in html


def test_a_forged_approval_by_the_registrant_is_refused(browser_for, make_user, iris):
    registrant = make_user("contributor", "reviewer")
    version = register(registrant, iris)

    response = browser_for(registrant).post(REVIEW, {"decision": "approve"})

    reason = policies.self_approval_refused(
        registrant, version, policies.policy_for(iris)
    )
    assert response.status_code == 403
    assert escape(reason) in response.content.decode()
    version.refresh_from_db()
    assert version.approval_status == "PendingManualApproval"
    assert not Review.objects.exists()


def test_a_reviewer_outside_the_policy_group_sees_no_buttons_and_is_refused(
    browser_for, reviewer, admin_user, iris, v1
):
    Group.objects.create(name="iris-reviewers")
    approval_services.policy_update(
        actor=admin_user, group=iris, reviewers="iris-reviewers"
    )
    client = browser_for(reviewer)

    html = client.get(VERSION).content.decode()
    response = client.post(REVIEW, {"decision": "approve"})

    _, reason = policies.may_review(reviewer, policies.policy_for(iris))
    assert buttons(html) == []
    assert f'data-testid="review-reason">{escape(reason)}<' in html
    assert "iris-reviewers" in reason
    assert response.status_code == 403


def test_the_verdict_explains_gates_and_approvals_needed(
    browser_for, reviewer, admin_user, iris, v1
):
    approval_services.policy_update(
        actor=admin_user,
        group=iris,
        required_approvals=2,
        metric_gates=[
            {"metric": "accuracy", "op": ">=", "value": 0.95},
            {"metric": "f1", "op": ">=", "value": 0.5},
        ],
    )

    html = browser_for(reviewer).get(VERSION).content.decode()

    verdict = policies.verdict(v1, reviewer)
    accuracy, f1 = verdict["gates"]
    assert escape(verdict["summary"]) in html  # e.g. "2 more approvals needed; ..."
    assert "accuracy >= 0.95" in verdict["summary"]  # it names the failing gate
    assert escape(f"Gate {accuracy['name']} fails ({accuracy['detail']})") in html
    assert escape(f"Gate {f1['name']} passes") in html
    assert "Approvals: 0 of 2 required; 2 more needed." in html


def test_approving_from_the_version_page(browser_for, reviewer, v1):
    response = browser_for(reviewer).post(
        REVIEW, {"decision": "approve", "comment": "looks good", "next": VERSION}
    )

    assert response.status_code == 302
    assert response["Location"] == VERSION
    v1.refresh_from_db()
    assert v1.approval_status == "Approved"
    review = Review.objects.get()
    assert (review.decision, review.comment) == ("approve", "looks good")


def test_the_outcome_is_reported_on_the_next_page(browser_for, reviewer, v1):
    response = browser_for(reviewer).post(
        REVIEW, {"decision": "approve", "next": VERSION}, follow=True
    )

    assert b"Approve recorded on iris v1; it is Approved." in response.content
    assert buttons(response.content.decode()) == ["Revoke approval", "Comment"]


def test_rejecting_needs_a_comment(browser_for, reviewer, v1):
    response = browser_for(reviewer).post(
        REVIEW, {"decision": "reject", "comment": "  "}, follow=True
    )

    assert b"A comment is required to reject." in response.content
    v1.refresh_from_db()
    assert v1.approval_status == "PendingManualApproval"


def test_rejecting_with_a_comment(browser_for, reviewer, v1):
    browser_for(reviewer).post(REVIEW, {"decision": "reject", "comment": "too weak"})

    v1.refresh_from_db()
    assert v1.approval_status == "Rejected"


def test_commenting(browser_for, reviewer, v1):
    browser_for(reviewer).post(REVIEW, {"decision": "comment", "comment": "why C=0.1?"})

    assert Review.objects.get().decision == "comment"
    v1.refresh_from_db()
    assert v1.approval_status == "PendingManualApproval"


def test_an_unknown_decision_is_refused(browser_for, reviewer, v1):
    response = browser_for(reviewer).post(REVIEW, {"decision": "resubmit"}, follow=True)

    assert b"Press Approve, Reject or Comment" in response.content
    assert not Review.objects.exists()


def test_next_must_stay_on_this_site(browser_for, reviewer, v1):
    response = browser_for(reviewer).post(
        REVIEW, {"decision": "approve", "next": "https://evil.example/"}
    )

    assert response["Location"] == VERSION


def test_a_contributor_resubmits_a_rejected_version(
    browser_for, contributor, reviewer, v1
):
    browser_for(reviewer).post(REVIEW, {"decision": "reject", "comment": "no"})
    html = browser_for(contributor).get(VERSION).content.decode()
    assert "Resubmit for review" in html

    browser_for(contributor).post(
        "/models/iris/versions/1/resubmit/", {"comment": "retrained"}
    )

    v1.refresh_from_db()
    assert v1.approval_status == "PendingManualApproval"


# --- Inbox -----------------------------------------------------------------------------


def inbox_items(html: str) -> list[str]:
    return re.findall(r'data-testid="inbox-([\w-]+)"', html)


def test_the_inbox_lists_what_waits_for_the_reviewer(browser_for, reviewer, v2):
    html = browser_for(reviewer).get("/reviews/").content.decode()

    assert inbox_items(html) == ["iris-1", "iris-2"]
    assert buttons(html) == ["Approve", "Reject", "Comment"] * 2
    assert html.count('value="/reviews/"') == 2  # each form comes back here
    assert "1 more approval needed." in html


def test_the_inbox_leaves_out_the_reviewers_own_versions(
    browser_for, make_user, iris, v1
):
    registrant = make_user("contributor", "reviewer")
    register(registrant, iris)

    html = browser_for(registrant).get("/reviews/").content.decode()

    assert inbox_items(html) == ["iris-1"]


def test_approving_from_the_inbox_removes_the_item(browser_for, reviewer, v2):
    client = browser_for(reviewer)

    response = client.post(
        REVIEW, {"decision": "approve", "comment": "ok", "next": "/reviews/"}
    )

    assert response["Location"] == "/reviews/"
    assert inbox_items(client.get("/reviews/").content.decode()) == ["iris-2"]


def test_the_header_shows_the_reviewers_inbox_count(browser_for, reviewer, viewer, v2):
    reviewer_html = browser_for(reviewer).get("/").content.decode()
    viewer_html = browser_for(viewer).get("/").content.decode()

    assert re.search(
        r'href="/reviews/"[^>]*>Reviews <span class="count"[^>]*>2<', reviewer_html
    )
    assert 'href="/reviews/"' not in viewer_html


def test_the_header_shows_the_user_and_roles(browser_for, make_user):
    user = make_user("contributor", "reviewer", username="ada")

    html = browser_for(user).get("/").content.decode()

    assert '<span class="user" data-testid="user">ada</span>' in html
    assert (
        '<span class="role">Contributor</span><span class="role">Reviewer</span>'
        in html
    )
    assert 'action="/accounts/logout/"' in html


def test_the_inbox_of_a_non_reviewer_is_empty(browser_for, viewer, v2):
    html = browser_for(viewer).get("/reviews/", follow=True).content.decode()

    assert inbox_items(html) == []
    assert "Only reviewers have a review inbox." in html


def test_the_inbox_paginates(browser_for, reviewer, contributor, iris):
    from tests.ui.helpers import add_versions

    add_versions(iris, 25, by=contributor)
    client = browser_for(reviewer)

    first = inbox_items(client.get("/reviews/").content.decode())
    second = inbox_items(client.get("/reviews/?page=2").content.decode())

    assert len(first) == 20
    assert second == [f"iris-{n}" for n in range(21, 26)]
