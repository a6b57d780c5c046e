"""Scoped API tokens: what each scope allows, and how tokens die."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import token_issue, token_revoke
from tests.helpers import register_payload


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def powerful(make_user):
    return make_user("contributor", "reviewer", "deployer")


@pytest.fixture
def pending(api, group, register):
    assert register().status_code == 201


def test_a_read_token_can_read_but_not_register(powerful, group):
    _, key = token_issue(user=powerful, scopes=["read"])
    client = token_client(key)

    assert client.get("/api/v1/model-groups/").status_code == 200
    response = client.post(
        "/api/v1/model-groups/iris/versions/", register_payload(), format="multipart"
    )
    assert response.status_code == 403


def test_a_write_token_can_register_but_not_review(powerful, group, pending):
    _, key = token_issue(user=powerful, scopes=["read", "write"])
    client = token_client(key)

    created = client.post(
        "/api/v1/model-groups/iris/versions/", register_payload(), format="multipart"
    )
    review = client.post(
        "/api/v1/model-groups/iris/versions/1/reviews/",
        {"decision": "approve"},
        format="json",
    )

    assert created.status_code == 201
    assert review.status_code == 403


def test_a_review_token_can_review(powerful, group, pending):
    _, key = token_issue(user=powerful, scopes=["review"])

    response = token_client(key).post(
        "/api/v1/model-groups/iris/versions/1/reviews/",
        {"decision": "comment", "comment": "looks fine"},
        format="json",
    )

    assert response.status_code == 201


def test_a_token_never_grants_more_than_its_user_holds(make_user, group):
    viewer = make_user("viewer")
    _, key = token_issue(user=viewer)  # every default scope

    response = token_client(key).post(
        "/api/v1/model-groups/", {"name": "x"}, format="json"
    )

    assert response.status_code == 403


def test_an_admin_token_with_only_write_acts_as_a_contributor(
    admin_user, group, pending
):
    _, key = token_issue(user=admin_user, scopes=["read", "write"])
    client = token_client(key)

    policy = client.put(
        "/api/v1/model-groups/iris/approval-policy",
        {"required_approvals": 2},
        format="json",
    )

    assert policy.status_code == 403
    assert (
        client.post("/api/v1/model-groups/", {"name": "y"}, format="json").status_code
        == 201
    )


@pytest.mark.parametrize("scopes", [[], ["root"], "read"])
def test_unknown_or_empty_scopes_are_refused(client_for, viewer, scopes):
    response = client_for(viewer).post(
        "/api/v1/tokens/", {"scopes": scopes}, format="json"
    )
    assert response.status_code == 400
    assert any(name.startswith("scopes") for name in response.json()["error"]["fields"])


def test_a_revoked_token_gets_401(viewer):
    token, key = token_issue(user=viewer)
    token_revoke(token=token)

    assert token_client(key).get("/api/v1/model-groups/").status_code == 401


def test_an_expired_token_gets_401(viewer):
    token, key = token_issue(
        user=viewer, expires_at=timezone.now() + timedelta(hours=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(1)
    )

    assert token_client(key).get("/api/v1/model-groups/").status_code == 401


def test_the_database_holds_no_token_in_plain_text(client_for, viewer):
    response = client_for(viewer).post("/api/v1/tokens/", {"name": "ci"}, format="json")
    key = response.json()["key"]

    rows = list(ApiToken.objects.values())
    assert rows
    assert all(key not in str(value) for row in rows for value in row.values())
    assert token_client(key).get("/api/v1/model-groups/").status_code == 200


def test_users_see_and_revoke_only_their_own_tokens(client_for, viewer, make_user):
    other, _ = token_issue(user=make_user("viewer"))
    mine = (
        client_for(viewer)
        .post("/api/v1/tokens/", {"name": "mine"}, format="json")
        .json()
    )

    listed = client_for(viewer).get("/api/v1/tokens/").json()["results"]
    assert [t["id"] for t in listed] == [mine["id"]]
    assert (
        client_for(viewer).post(f"/api/v1/tokens/{other.pk}/revoke").status_code == 404
    )
    revoked = client_for(viewer).post(f"/api/v1/tokens/{mine['id']}/revoke")
    assert revoked.json()["active"] is False


def test_admins_issue_tokens_for_service_accounts(client_for, admin_user, viewer):
    created = client_for(admin_user).post(
        "/api/v1/service-accounts/",
        {"username": "ci-bot", "roles": ["contributor"], "description": "pipelines"},
        format="json",
    )
    assert created.status_code == 201, created.content
    robot = get_user_model().objects.get(username="ci-bot")
    assert not robot.has_usable_password()

    token = client_for(admin_user).post(
        "/api/v1/tokens/",
        {"user": "ci-bot", "scopes": ["read", "write"], "expires_in_days": 30},
        format="json",
    )
    assert token.status_code == 201
    assert token.json()["user"] == "ci-bot"
    refused = client_for(viewer).post(
        "/api/v1/tokens/", {"user": "ci-bot"}, format="json"
    )
    assert refused.status_code == 403
    assert (
        client_for(viewer)
        .post(
            "/api/v1/service-accounts/",
            {"username": "x", "roles": ["viewer"]},
            format="json",
        )
        .status_code
        == 403
    )


def test_an_invoke_only_token_may_invoke_but_not_read(viewer):
    from accounts.roles import may_invoke, roles_of

    token, _ = token_issue(user=viewer, scopes=["invoke"])
    from accounts.roles import limit_to_scopes

    limit_to_scopes(viewer, token.scopes)
    assert roles_of(viewer) == frozenset()
    assert may_invoke(viewer)


def test_a_remembered_token_stops_working_the_moment_it_is_revoked(viewer):
    token, key = token_issue(user=viewer)
    client = token_client(key)
    assert client.get("/api/v1/model-groups/").status_code == 200

    token_revoke(token=token)

    assert client.get("/api/v1/model-groups/").status_code == 401


def test_a_remembered_token_stops_working_when_its_user_is_deactivated(viewer):
    _, key = token_issue(user=viewer)
    client = token_client(key)
    assert client.get("/api/v1/model-groups/").status_code == 200

    viewer.is_active = False
    viewer.save()

    assert client.get("/api/v1/model-groups/").status_code == 401


def test_service_accounts_are_listed_in_pages(client_for, admin_user):
    from accounts.services import service_account_create

    for name in ("bot-c", "bot-a", "bot-b"):
        service_account_create(actor=admin_user, username=name, roles=["viewer"])

    page = client_for(admin_user).get("/api/v1/service-accounts/?page_size=2").json()

    assert page["count"] == 3
    assert [row["username"] for row in page["results"]] == ["bot-a", "bot-b"]
    assert page["results"][0]["roles"] == ["viewer"]
    assert page["results"][0]["created_by"] == admin_user.username
    assert page["next"]


def test_service_accounts_are_listed_in_constant_queries(
    client_for, admin_user, django_assert_max_num_queries
):
    from accounts.services import service_account_create

    for number in range(5):
        service_account_create(
            actor=admin_user, username=f"bot{number}", roles=["viewer"]
        )

    with django_assert_max_num_queries(4):
        client_for(admin_user).get("/api/v1/service-accounts/")
