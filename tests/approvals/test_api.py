"""Who may call each review endpoint, and the 404/409/400 answers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from approvals.models import ApprovalPolicy, Review
from catalog.models import Event, ModelVersion
from tests.approvals.helpers import (
    APPROVED,
    INBOX,
    PENDING,
    REJECTED,
    approve,
    error_of,
    post_review,
    reject,
    status_of,
)

VERSIONS = "/api/v1/model-groups/iris/versions"
POLICY = "/api/v1/model-groups/iris/approval-policy"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: dict[str, Any] | None = None

    def call(self, client: APIClient) -> Any:
        return getattr(client, self.method)(self.path, self.body, format="json")


# Version 1 is pending, version 2 was rejected (see ``world``).
ENDPOINTS = {
    "reviews-list": Endpoint("get", f"{VERSIONS}/1/reviews/"),
    "review-create": Endpoint(
        "post", f"{VERSIONS}/1/reviews/", {"decision": "approve", "comment": "ok"}
    ),
    "resubmit": Endpoint("post", f"{VERSIONS}/2/resubmit", {"comment": "retrained"}),
    "verdict": Endpoint("get", f"{VERSIONS}/1/verdict"),
    "policy-get": Endpoint("get", POLICY),
    "policy-put": Endpoint("put", POLICY, {"required_approvals": 2}),
    "inbox": Endpoint("get", INBOX),
}
PERSONAS = ("anonymous", "no-role", "viewer", "contributor", "reviewer", "admin")
MATRIX = {
    #                anonymous no-role viewer contributor reviewer admin
    "reviews-list": (401, 403, 200, 200, 200, 200),
    "review-create": (401, 403, 403, 403, 201, 201),
    "resubmit": (401, 403, 403, 200, 403, 200),
    "verdict": (401, 403, 200, 200, 200, 200),
    "policy-get": (401, 403, 200, 200, 200, 200),
    "policy-put": (401, 403, 403, 403, 403, 200),
    "inbox": (401, 403, 200, 200, 200, 200),
}
CASES = [
    pytest.param(endpoint, persona, code, id=f"{endpoint}-{persona}-{code}")
    for endpoint, codes in MATRIX.items()
    for persona, code in zip(PERSONAS, codes, strict=True)
]


@pytest.fixture
def world(make_version: Any, make_reviewer: Any) -> tuple[ModelVersion, ModelVersion]:
    """``iris`` v1 pending and v2 rejected, both registered by ``owner``."""
    pending, rejected = make_version(), make_version()
    reject(make_reviewer(), rejected)
    return pending, rejected


@pytest.fixture
def client_as(make_user: Callable[..., Any], client_for: Any) -> Callable[..., Any]:
    def make(persona: str) -> APIClient:
        if persona == "anonymous":
            return client_for(None)
        return client_for(make_user(*(() if persona == "no-role" else (persona,))))

    return make


def snapshot() -> tuple[Any, ...]:
    return (
        list(ModelVersion.objects.order_by("id").values_list("approval_status")),
        Review.objects.count(),
        Event.objects.count(),
        ApprovalPolicy.objects.count(),
    )


# --- the role matrix -------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "persona", "expected"), CASES)
def test_every_review_endpoint_answers_each_role(
    endpoint, persona, expected, world, client_as
):
    client = client_as(persona)
    before = snapshot()

    response = ENDPOINTS[endpoint].call(client)

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert error_of(response)["status"] == expected
        assert snapshot() == before


@pytest.mark.parametrize("persona", ["viewer", "contributor"])
def test_the_inbox_of_a_caller_who_cannot_review_is_empty(persona, world, client_as):
    response = client_as(persona).get(INBOX)

    assert response.json()["results"] == []


def test_a_reviewers_approval_through_the_api_approves(world, client_as):
    pending, _ = world

    response = ENDPOINTS["review-create"].call(client_as("reviewer"))

    assert response.json()["approval_status"] == APPROVED
    assert status_of(pending) == APPROVED


def test_a_contributors_resubmission_through_the_api_reopens_review(world, client_as):
    _, rejected = world

    response = ENDPOINTS["resubmit"].call(client_as("contributor"))

    assert response.json()["approval_status"] == PENDING
    assert status_of(rejected) == PENDING


@pytest.mark.parametrize(
    ("endpoint", "persona", "body"),
    [
        ("review-create", "viewer", {"decision": "maybe"}),
        ("resubmit", "reviewer", {}),
        ("policy-put", "reviewer", {"required_approvals": 0}),
    ],
)
def test_it_refuses_a_caller_without_the_role_before_reading_the_body(
    endpoint, persona, body, world, client_as
):
    target = ENDPOINTS[endpoint]

    response = Endpoint(target.method, target.path, body).call(client_as(persona))

    assert response.status_code == 403


# --- unknown objects ---------------------------------------------------------------

UNKNOWN = {
    "reviews-list-of-unknown-group": Endpoint(
        "get", "/api/v1/model-groups/nope/versions/1/reviews/"
    ),
    "reviews-list-of-unknown-version": Endpoint("get", f"{VERSIONS}/9/reviews/"),
    "review-create-in-unknown-group": Endpoint(
        "post", "/api/v1/model-groups/nope/versions/1/reviews/", {"decision": "approve"}
    ),
    "review-create-of-unknown-version": Endpoint(
        "post", f"{VERSIONS}/9/reviews/", {"decision": "approve"}
    ),
    "resubmit-in-unknown-group": Endpoint(
        "post", "/api/v1/model-groups/nope/versions/2/resubmit", {"comment": "x"}
    ),
    "resubmit-of-unknown-version": Endpoint(
        "post", f"{VERSIONS}/9/resubmit", {"comment": "x"}
    ),
    "verdict-in-unknown-group": Endpoint(
        "get", "/api/v1/model-groups/nope/versions/1/verdict"
    ),
    "verdict-of-unknown-version": Endpoint("get", f"{VERSIONS}/9/verdict"),
    "policy-get-of-unknown-group": Endpoint(
        "get", "/api/v1/model-groups/nope/approval-policy"
    ),
    "policy-put-of-unknown-group": Endpoint(
        "put", "/api/v1/model-groups/nope/approval-policy", {"required_approvals": 2}
    ),
}


@pytest.mark.parametrize("name", UNKNOWN)
def test_it_answers_404_for_an_unknown_group_or_version(name, world, client_as):
    before = snapshot()

    response = UNKNOWN[name].call(client_as("admin"))

    assert response.status_code == 404, response.content
    assert error_of(response)["code"] == "not_found"
    assert snapshot() == before


# --- wrong states and bad input ----------------------------------------------------


def test_it_refuses_to_approve_a_rejected_version(world, client_as):
    _, rejected = world

    response = post_review(client_as("reviewer"), rejected, "approve")

    assert response.status_code == 409
    assert "resubmitted" in error_of(response)["message"]
    assert status_of(rejected) == REJECTED


def test_it_refuses_to_resubmit_an_approved_version(world, client_as, make_reviewer):
    pending, _ = world
    approve(make_reviewer(), pending)
    path = f"{VERSIONS}/1/resubmit"

    response = client_as("contributor").post(path, {"comment": "again"}, format="json")

    assert response.status_code == 409
    assert "Approved" in error_of(response)["message"]
    assert status_of(pending) == APPROVED


@pytest.mark.parametrize("body", [{}, {"comment": ""}, {"comment": "   "}])
def test_it_refuses_a_rejection_without_a_comment(body, world, client_as):
    pending, _ = world
    path = f"{VERSIONS}/1/reviews/"

    response = client_as("reviewer").post(
        path, {"decision": "reject", **body}, format="json"
    )

    assert response.status_code == 400
    assert "comment" in error_of(response)["fields"]
    assert "comment" in error_of(response)["message"]
    assert status_of(pending) == PENDING


@pytest.mark.parametrize("body", [{}, {"comment": ""}])
def test_it_refuses_a_resubmission_without_a_comment(body, world, client_as):
    _, rejected = world

    response = client_as("contributor").post(
        f"{VERSIONS}/2/resubmit", body, format="json"
    )

    assert response.status_code == 400
    assert "comment" in error_of(response)["fields"]
    assert status_of(rejected) == REJECTED


def test_it_refuses_an_unknown_decision(world, client_as):
    response = client_as("reviewer").post(
        f"{VERSIONS}/1/reviews/", {"decision": "maybe"}, format="json"
    )

    assert response.status_code == 400
    assert "decision" in error_of(response)["fields"]
