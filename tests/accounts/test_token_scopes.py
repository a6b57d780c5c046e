"""No token exceeds its scope when it manages tokens (issue 10, defect 2).

Token management (issue, revoke, service accounts) needs a session or a token with
the ``tokens`` scope, and a token issues only tokens within its own scopes and
lifetime. The matrix below runs every scope set against every token endpoint.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import service_account_create, token_issue
from common.errors import Forbidden

ADMIN_LEVEL = {"read", "write", "review", "deploy"}
DEFAULT = ["read", "write", "review", "deploy", "invoke"]
SCOPE_SETS = [
    ["read"],
    ["write"],
    ["review"],
    ["deploy"],
    ["invoke"],
    ["tokens"],
    ["read", "tokens"],
    DEFAULT,
    [*DEFAULT, "tokens"],
]


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def robot(admin_user):
    return service_account_create(
        actor=admin_user, username="ci-bot", roles=["contributor"]
    )


def _list_tokens(client, **_):
    return client.get("/api/v1/tokens/")


def _issue_own_read(client, **_):
    return client.post("/api/v1/tokens/", {"scopes": ["read"]}, format="json")


def _issue_own_default(client, **_):
    return client.post("/api/v1/tokens/", {"name": "d"}, format="json")


def _issue_for_robot(client, **_):
    return client.post(
        "/api/v1/tokens/", {"user": "ci-bot", "scopes": ["read"]}, format="json"
    )


def _revoke_other(client, other, **_):
    return client.post(f"/api/v1/tokens/{other.pk}/revoke")


def _delete_other(client, other, **_):
    return client.delete(f"/api/v1/tokens/{other.pk}/")


def _revoke_itself(client, mine, **_):
    return client.post(f"/api/v1/tokens/{mine.pk}/revoke")


def _list_service_accounts(client, **_):
    return client.get("/api/v1/service-accounts/")


def _create_service_account(client, **_):
    return client.post(
        "/api/v1/service-accounts/",
        {"username": "new-bot", "roles": ["viewer"]},
        format="json",
    )


# (call, status when allowed, who is allowed: a predicate on the token's scopes)
ENDPOINTS = {
    "list tokens": (_list_tokens, 200, lambda s: bool(s & {"read", "tokens"})),
    "issue own read token": (
        _issue_own_read,
        201,
        lambda s: {"tokens", "read"} <= s,
    ),
    "issue own default token": (
        _issue_own_default,
        201,
        lambda s: {"tokens", *DEFAULT} <= s,
    ),
    "issue for a service account": (
        _issue_for_robot,
        201,
        lambda s: ADMIN_LEVEL | {"tokens"} <= s,
    ),
    "revoke another token": (_revoke_other, 200, lambda s: "tokens" in s),
    "delete another token": (_delete_other, 204, lambda s: "tokens" in s),
    "revoke itself": (_revoke_itself, 200, lambda s: True),
    "list service accounts": (
        _list_service_accounts,
        200,
        lambda s: s >= ADMIN_LEVEL,
    ),
    "create a service account": (
        _create_service_account,
        201,
        lambda s: ADMIN_LEVEL | {"tokens"} <= s,
    ),
}


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=",".join)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_token_endpoints_by_scope(admin_user, robot, scopes, endpoint):
    call, ok, allowed = ENDPOINTS[endpoint]
    mine, key = token_issue(user=admin_user, scopes=scopes)
    other, _ = token_issue(user=admin_user, name="other")
    tokens_before = ApiToken.objects.count()

    response = call(token_client(key), mine=mine, other=other)

    expected = ok if allowed(set(scopes)) else 403
    assert response.status_code == expected, response.content
    if expected == 403:
        other.refresh_from_db()
        assert other.revoked_at is None
        assert ApiToken.objects.count() == tokens_before
        assert not get_user_model().objects.filter(username="new-bot").exists()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_signed_in_admin_may_use_every_token_endpoint(
    admin_user, robot, client_for, endpoint
):
    call, ok, _ = ENDPOINTS[endpoint]
    mine, _ = token_issue(user=admin_user)
    other, _ = token_issue(user=admin_user, name="other")

    response = call(client_for(admin_user), mine=mine, other=other)

    assert response.status_code == ok, response.content


def test_an_invoke_only_admin_token_cannot_mint_an_admin_token(admin_user):
    _, key = token_issue(user=admin_user, scopes=["invoke"])

    response = token_client(key).post(
        "/api/v1/tokens/", {"scopes": [*DEFAULT, "tokens"]}, format="json"
    )

    assert response.status_code == 403
    assert ApiToken.objects.count() == 1


def test_a_token_cannot_issue_a_scope_it_lacks(admin_user):
    _, key = token_issue(user=admin_user, scopes=["read", "tokens"])

    response = token_client(key).post(
        "/api/v1/tokens/", {"scopes": ["read", "write"]}, format="json"
    )

    assert response.status_code == 403
    assert "write" in response.json()["error"]["fields"]["scopes"][0]


def test_a_token_made_by_a_token_never_outlives_it(contributor):
    parent, key = token_issue(
        user=contributor,
        scopes=["read", "tokens"],
        expires_at=timezone.now() + timedelta(days=2),
    )
    client = token_client(key)

    longer = client.post(
        "/api/v1/tokens/",
        {"scopes": ["read"], "expires_in_days": 30},
        format="json",
    )
    unset = client.post("/api/v1/tokens/", {"scopes": ["read"]}, format="json")

    assert longer.status_code == 403
    assert "expires_at" in longer.json()["error"]["fields"]
    assert unset.status_code == 201
    assert ApiToken.objects.get(pk=unset.json()["id"]).expires_at == parent.expires_at


def test_the_service_refuses_a_token_without_the_tokens_scope(contributor):
    from accounts.roles import remember_token

    caller, _ = token_issue(user=contributor, scopes=DEFAULT)
    remember_token(contributor, caller)

    with pytest.raises(Forbidden):
        token_issue(user=contributor, actor=contributor, scopes=["read"])


def test_new_tokens_do_not_get_the_tokens_scope_by_default(viewer):
    token, _ = token_issue(user=viewer)

    assert token.scopes == DEFAULT


def test_invoke_only_tokens_cannot_list_tokens(viewer):
    _, key = token_issue(user=viewer, scopes=["invoke"])

    assert token_client(key).get("/api/v1/tokens/").status_code == 403


def test_the_tokens_page_still_issues_and_revokes_with_a_session(client, viewer):
    client.force_login(viewer)

    page = client.post("/account/tokens/", {"name": "ci", "scopes": ["read", "tokens"]})
    token = ApiToken.objects.get(user=viewer)
    revoked = client.post(f"/account/tokens/{token.pk}/revoke/", {"confirm": "1"})

    assert page.status_code == 302
    assert token.scopes == ["read", "tokens"]
    assert revoked.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
