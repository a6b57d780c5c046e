"""GET and PUT /model-groups/{name}/approval-policy."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals.models import ApprovalPolicy
from tests.approvals.helpers import error_of, events, policy_url


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


def test_it_answers_the_default_policy_before_any_is_set(iris, viewer, client_for):
    response = client_for(viewer).get(policy_url())

    assert response.status_code == 200
    assert response.json() == {
        "group": "iris",
        "required_approvals": 1,
        "reviewers": None,
        "allow_self_approval": False,
        "reject_on_first_rejection": True,
        "metric_gates": [],
        "require_model_card": False,
        "require_sample_payload": False,
        "require_lineage_commit": False,
        "approval_valid_days": None,
        "on_expiry": "notify",
        "is_default": True,
        "updated_by": None,
        "updated_at": None,
    }


def test_an_admin_replaces_the_policy(iris, admin_api, admin_user):
    Group.objects.create(name="fraud-team")
    body = {
        "required_approvals": 2,
        "reviewers": "fraud-team",
        "metric_gates": [{"metric": "auc", "op": ">=", "value": 0.85}],
        "require_model_card": True,
    }

    response = admin_api.put(policy_url(), body, format="json")

    assert response.status_code == 200, response.content
    shown = admin_api.get(policy_url()).json()
    assert shown["is_default"] is False
    assert shown["updated_by"] == admin_user.username
    assert {key: shown[key] for key in body} == body


def test_putting_the_policy_records_a_policy_updated_event(iris, admin_api, admin_user):
    admin_api.put(policy_url(), {"required_approvals": 3}, format="json")

    (event,) = events("policy.updated")
    assert (event.actor_id, event.group_name) == (admin_user.pk, "iris")
    assert event.payload["required_approvals"] == 3


def test_it_clears_the_reviewer_group(iris, admin_api, set_policy):
    Group.objects.create(name="fraud-team")
    set_policy(reviewers="fraud-team")

    response = admin_api.put(policy_url(), {"reviewers": None}, format="json")

    assert response.json()["reviewers"] is None


@pytest.mark.parametrize("quorum", [0, -1, "two"])
def test_it_refuses_a_quorum_below_one(quorum, iris, admin_api):
    response = admin_api.put(
        policy_url(), {"required_approvals": quorum}, format="json"
    )

    assert response.status_code == 400
    assert "required_approvals" in error_of(response)["fields"]
    assert not ApprovalPolicy.objects.exists()
    assert events("policy.updated") == []


def test_it_refuses_an_unknown_reviewer_group(iris, admin_api):
    response = admin_api.put(policy_url(), {"reviewers": "nobody"}, format="json")

    assert response.status_code == 400
    assert "reviewers" in error_of(response)["fields"]
    assert "nobody" in error_of(response)["message"]
    assert not ApprovalPolicy.objects.exists()


@pytest.mark.parametrize(
    "gate",
    [
        {"metric": "auc", "op": "=>", "value": 0.85},
        {"metric": "auc", "op": ">=", "value": "high"},
        {"metric": "auc", "op": ">=", "value": True},
        {"metric": "auc", "op": ">="},
        {"metric": "a uc", "op": ">=", "value": 0.85},
        {"metric": "auc", "op": ">=", "value": 0.85, "extra": 1},
    ],
)
def test_it_refuses_a_bad_metric_gate(gate, iris, admin_api):
    response = admin_api.put(policy_url(), {"metric_gates": [gate]}, format="json")

    assert response.status_code == 400, response.content
    fields = error_of(response)["fields"]
    assert any(name.startswith("metric_gates") for name in fields), fields
    assert not ApprovalPolicy.objects.exists()


def test_it_refuses_an_unknown_policy_field(iris, admin_api):
    response = admin_api.put(policy_url(), {"required_aprovals": 2}, format="json")

    assert response.status_code == 400
    assert "required_aprovals" in error_of(response)["fields"]
