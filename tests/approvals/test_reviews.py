"""The review workflow: self-approval, quorum, gates, revoke, resubmit, rounds."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals.models import Review
from tests.approvals.helpers import (
    APPROVED,
    PENDING,
    REJECTED,
    approve,
    error_of,
    events,
    policy_url,
    post_review,
    reject,
    resubmit,
    status_of,
    version_url,
)
from tests.helpers import query_count

# --- self-approval -----------------------------------------------------------------


def test_it_refuses_self_approval_by_default(make_user, make_version, client_for):
    registrant = make_user("contributor", "reviewer")
    version = make_version(actor=registrant)

    response = post_review(client_for(registrant), version, "approve")

    assert response.status_code == 403
    message = error_of(response)["message"]
    assert "You registered version 1" in message
    assert "does not allow approving your own version" in message
    assert status_of(version) == PENDING
    assert not Review.objects.exists()


def test_it_allows_self_approval_where_the_policy_allows_it(
    make_user, make_version, client_for, admin_user
):
    registrant = make_user("contributor", "reviewer")
    version = make_version(actor=registrant)
    policy = client_for(admin_user).put(
        policy_url(), {"allow_self_approval": True}, format="json"
    )
    assert policy.status_code == 200, policy.content

    response = post_review(client_for(registrant), version, "approve")

    assert response.status_code == 201, response.content
    assert status_of(version) == APPROVED


def test_it_refuses_a_reviewer_outside_the_policys_reviewer_group(
    version, set_policy, make_reviewer, client_for
):
    Group.objects.create(name="fraud-team")
    set_policy(reviewers="fraud-team")

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 403
    assert "Only members of 'fraud-team' review 'iris'" in error_of(response)["message"]
    assert status_of(version) == PENDING


def test_a_member_of_the_policys_reviewer_group_approves(
    version, set_policy, make_reviewer, client_for
):
    member = make_reviewer()
    member.groups.add(Group.objects.create(name="fraud-team"))
    set_policy(reviewers="fraud-team")

    response = post_review(client_for(member), version, "approve")

    assert response.status_code == 201
    assert status_of(version) == APPROVED


# --- quorum ------------------------------------------------------------------------


def test_one_approval_of_a_quorum_of_two_leaves_the_version_pending(
    version, set_policy, make_reviewer, client_for
):
    set_policy(required_approvals=2)

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 201
    assert response.json()["approval_status"] == PENDING
    assert response.json()["verdict"]["approvals_needed"] == 1
    assert status_of(version) == PENDING


def test_a_second_reviewers_approval_reaches_the_quorum(
    version, set_policy, make_reviewer, client_for
):
    set_policy(required_approvals=2)
    approve(make_reviewer(), version)

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 201
    assert response.json()["approval_status"] == APPROVED
    assert status_of(version) == APPROVED


def test_the_same_reviewer_approving_twice_counts_once(
    version, set_policy, make_reviewer, client_for
):
    set_policy(required_approvals=2)
    reviewer = make_reviewer()
    approve(reviewer, version)

    response = post_review(client_for(reviewer), version, "approve")

    assert response.status_code == 200
    assert response.json()["created"] is False
    assert status_of(version) == PENDING
    assert Review.objects.filter(reviewer=reviewer).count() == 1


def test_approving_an_approved_version_again_is_a_no_op(
    version, make_reviewer, client_for
):
    approve(make_reviewer(), version)

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 200
    assert response.json()["created"] is False
    assert len(events("version.approved", version)) == 1


def test_rejecting_a_rejected_version_again_is_a_no_op(
    version, make_reviewer, client_for
):
    reject(make_reviewer(), version)

    response = post_review(client_for(make_reviewer()), version, "reject", "No.")

    assert response.status_code == 200
    assert response.json()["created"] is False
    assert len(events("version.rejected", version)) == 1


# --- gates -------------------------------------------------------------------------

AUC_GATE = {"metric": "auc", "op": ">=", "value": 0.85}


def test_a_failing_metric_gate_blocks_approval_and_names_the_gate(
    make_version, set_policy, make_reviewer, client_for
):
    set_policy(metric_gates=[AUC_GATE])
    version = make_version(metrics={"auc": 0.8})

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"]["gates"] == ["auc >= 0.85"]
    assert error["failed_gates"] == [{"name": "auc >= 0.85", "detail": "auc is 0.8"}]
    assert "auc >= 0.85" in error["message"]
    assert status_of(version) == PENDING
    assert not Review.objects.exists()


def test_a_missing_metric_fails_its_gate(
    make_version, set_policy, make_reviewer, client_for
):
    set_policy(metric_gates=[AUC_GATE])
    version = make_version(metrics={"accuracy": 0.97})

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 400
    assert error_of(response)["failed_gates"] == [
        {"name": "auc >= 0.85", "detail": "metric 'auc' is missing"}
    ]


def test_a_version_that_meets_its_metric_gate_is_approved(
    make_version, set_policy, make_reviewer, client_for
):
    set_policy(metric_gates=[AUC_GATE])
    version = make_version(metrics={"auc": 0.91})

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 201, response.content
    assert status_of(version) == APPROVED


@pytest.mark.parametrize(
    ("op", "threshold", "value", "passes"),
    [
        (">=", 0.85, 0.85, True),
        (">", 0.85, 0.85, False),
        ("<=", 50, 42, True),
        ("<", 50, 50, False),
        ("==", 1, 1.0, True),
        ("==", 1, 0.99, False),
    ],
)
def test_a_metric_gate_compares_with_its_operator(
    op, threshold, value, passes, make_version, set_policy, make_reviewer, client_for
):
    set_policy(metric_gates=[{"metric": "m", "op": op, "value": threshold}])
    version = make_version(metrics={"m": value})

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == (201 if passes else 400)
    assert (status_of(version) == APPROVED) is passes


METADATA_GATES = [
    pytest.param(
        "require_model_card",
        {"model_card": "# Iris\nTrained on the iris data set."},
        {"model_card": "   "},
        "model card present",
        id="model-card",
    ),
    pytest.param(
        "require_sample_payload",
        {"sample_payload": [[5.1, 3.5, 1.4, 0.2]]},
        {},
        "sample payload present",
        id="sample-payload",
    ),
    pytest.param(
        "require_lineage_commit",
        {"lineage": {"commit": "3f2a9c1"}},
        {"lineage": {"commit": "  ", "dataset_uri": "s3://data/iris"}},
        "lineage commit present",
        id="lineage-commit",
    ),
]


@pytest.mark.parametrize(("rule", "good", "bad", "gate"), METADATA_GATES)
def test_a_missing_required_metadata_blocks_approval(
    rule, good, bad, gate, make_version, set_policy, make_reviewer, client_for
):
    set_policy(**{rule: True})
    version = make_version(**bad)

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 400
    assert error_of(response)["fields"]["gates"] == [gate]
    assert status_of(version) == PENDING


@pytest.mark.parametrize(("rule", "good", "bad", "gate"), METADATA_GATES)
def test_a_version_with_the_required_metadata_is_approved(
    rule, good, bad, gate, make_version, set_policy, make_reviewer, client_for
):
    set_policy(**{rule: True})
    version = make_version(**good)

    response = post_review(client_for(make_reviewer()), version, "approve")

    assert response.status_code == 201, response.content
    assert status_of(version) == APPROVED


# --- rejection ---------------------------------------------------------------------


def test_one_rejection_rejects_by_default(version, set_policy, make_reviewer):
    set_policy(required_approvals=2)

    reject(make_reviewer(), version, "AUC too low")

    assert status_of(version) == REJECTED
    (event,) = events("version.rejected", version)
    assert event.payload == {
        "from": PENDING,
        "to": REJECTED,
        "comment": "AUC too low",
        "revoked": False,
    }


def test_one_rejection_leaves_it_pending_without_reject_on_first_rejection(
    version, set_policy, make_reviewer, client_for
):
    set_policy(required_approvals=2, reject_on_first_rejection=False)

    response = post_review(client_for(make_reviewer()), version, "reject", "Hmm.")

    assert response.status_code == 201
    assert status_of(version) == PENDING
    assert events("version.rejected", version) == []


def test_rejections_reaching_the_quorum_reject_without_reject_on_first_rejection(
    version, set_policy, make_reviewer
):
    set_policy(required_approvals=2, reject_on_first_rejection=False)
    reject(make_reviewer(), version)

    reject(make_reviewer(), version)

    assert status_of(version) == REJECTED


def test_the_same_reviewer_rejecting_twice_counts_once(
    version, set_policy, make_reviewer
):
    set_policy(required_approvals=2, reject_on_first_rejection=False)
    reviewer = make_reviewer()
    reject(reviewer, version)

    reject(reviewer, version, "Still no.")

    assert status_of(version) == PENDING


# --- revoke ------------------------------------------------------------------------


def test_a_reviewer_revokes_an_approved_version_with_a_comment(
    version, make_reviewer, client_for
):
    approve(make_reviewer(), version)
    revoker = make_reviewer()

    response = post_review(client_for(revoker), version, "reject", "Leaks labels.")

    assert response.status_code == 201
    assert status_of(version) == REJECTED
    (event,) = events("version.rejected", version)
    assert event.actor_id == revoker.pk
    assert event.payload == {
        "from": APPROVED,
        "to": REJECTED,
        "comment": "Leaks labels.",
        "revoked": True,
    }


def test_it_refuses_to_revoke_without_a_comment(version, make_reviewer, client_for):
    approve(make_reviewer(), version)

    response = post_review(client_for(make_reviewer()), version, "reject")

    assert response.status_code == 400
    assert "comment" in error_of(response)["fields"]
    assert status_of(version) == APPROVED


# --- resubmit and rounds -----------------------------------------------------------


def test_a_contributor_resubmits_a_rejected_version(
    version, make_reviewer, contributor, client_for
):
    reject(make_reviewer(), version)

    response = client_for(contributor).post(
        version_url(version, "resubmit"), {"comment": "Retrained."}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["created"] is True
    assert status_of(version) == PENDING
    (event,) = events("version.resubmitted", version)
    assert event.actor_id == contributor.pk
    assert event.payload == {
        "from": REJECTED,
        "to": PENDING,
        "comment": "Retrained.",
        "round": 2,
    }


def test_resubmitting_a_pending_version_is_a_conflict(version, contributor, client_for):
    """Issue 10, defect 8: only a Rejected version can be resubmitted."""
    response = client_for(contributor).post(
        version_url(version, "resubmit"), {"comment": "Again."}, format="json"
    )

    assert response.status_code == 409
    assert "only a Rejected version" in response.json()["error"]["message"]
    assert events("version.resubmitted") == []


def test_approvals_before_a_resubmission_no_longer_count(
    version, set_policy, make_reviewer, contributor
):
    set_policy(required_approvals=2)
    first, second = make_reviewer(), make_reviewer()
    approve(first, version)
    reject(second, version)
    resubmit(contributor, version)

    approve(first, version)

    assert status_of(version) == PENDING


def test_a_resubmitted_version_needs_a_full_quorum_again(
    version, set_policy, make_reviewer, contributor
):
    set_policy(required_approvals=2)
    first, second = make_reviewer(), make_reviewer()
    approve(first, version)
    reject(second, version)
    resubmit(contributor, version)
    approve(first, version)

    approve(make_reviewer(), version)

    assert status_of(version) == APPROVED
    (event,) = events("version.approved", version)
    assert event.payload["round"] == 2


# --- comments, the trail and the verdict ------------------------------------------


def test_a_comment_is_recorded_but_does_not_vote(
    version, set_policy, make_reviewer, client_for
):
    set_policy(required_approvals=2)
    reviewer = make_reviewer()
    post_review(client_for(reviewer), version, "comment", "Why 0.9?")

    approve(make_reviewer(), version)

    assert status_of(version) == PENDING
    assert Review.objects.filter(reviewer=reviewer, decision="comment").count() == 1


def test_an_approval_records_who_changed_what_in_one_event(
    version, make_reviewer, client_for
):
    reviewer = make_reviewer()

    post_review(client_for(reviewer), version, "approve", "Ship it.")

    (event,) = events("version.approved", version)
    assert (event.actor_id, event.group_name, event.version_number) == (
        reviewer.pk,
        "iris",
        1,
    )
    assert event.payload == {
        "from": PENDING,
        "to": APPROVED,
        "comment": "Ship it.",
        "round": 1,
        "approvals": 1,
    }


def test_the_timeline_lists_every_review_in_order(
    version, make_reviewer, contributor, client_for
):
    first, second = make_reviewer(), make_reviewer()
    reject(first, version, "No.")
    resubmit(contributor, version, "Fixed.")
    approve(second, version, "Yes.")

    response = client_for(contributor).get(version_url(version, "reviews/"))

    rows = [
        (r["reviewer"], r["decision"], r["comment"], r["round"], r["status_after"])
        for r in response.json()["results"]
    ]
    assert rows == [
        (first.username, "reject", "No.", 1, REJECTED),
        (contributor.username, "resubmit", "Fixed.", 2, PENDING),
        (second.username, "approve", "Yes.", 2, APPROVED),
    ]


def test_the_timeline_uses_a_constant_number_of_queries(
    make_version, make_reviewer, viewer, client_for
):
    version, client = make_version(), client_for(viewer)
    approve(make_reviewer(), version)
    client.get(version_url(version, "reviews/"))  # roles are read once, then cached
    few = query_count(lambda: client.get(version_url(version, "reviews/")))
    reject(make_reviewer(), version, "No.")
    resubmit(make_reviewer("contributor"), version)

    assert query_count(lambda: client.get(version_url(version, "reviews/"))) == few


def test_the_verdict_counts_votes_and_gates(
    make_version, set_policy, make_reviewer, client_for
):
    set_policy(required_approvals=2, metric_gates=[AUC_GATE])
    version = make_version(metrics={"auc": 0.9})
    first = make_reviewer()
    approve(first, version)

    verdict = client_for(make_reviewer()).get(version_url(version, "verdict")).json()

    assert verdict["approvals"] == [first.username]
    assert verdict["approvals_needed"] == 1
    assert verdict["gates"] == [
        {"name": "auc >= 0.85", "passed": True, "detail": "auc is 0.9"}
    ]
    assert verdict["can_approve"] is True
    assert verdict["summary"] == "1 more approval needed; all gates pass."


def test_the_verdict_tells_the_registrant_why_they_cannot_approve(
    make_user, make_version, client_for
):
    registrant = make_user("contributor", "reviewer")
    version = make_version(actor=registrant)

    verdict = client_for(registrant).get(version_url(version, "verdict")).json()

    assert (verdict["can_review"], verdict["can_approve"]) == (True, False)
    assert "does not allow approving your own version" in verdict["reason"]


def test_the_verdict_tells_a_viewer_they_cannot_review(version, viewer, client_for):
    verdict = client_for(viewer).get(version_url(version, "verdict")).json()

    assert verdict["can_approve"] is False
    assert "reviewer role" in verdict["reason"]
