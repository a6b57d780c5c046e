"""API tokens against the catalog API: digests only, revocation and expiry."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_key
from accounts.services import token_issue, token_revoke

GROUPS = "/api/v1/model-groups/"


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_authenticates_api_calls(contributor):
    _, key = token_issue(user=contributor, name="ci")

    response = token_client(key).post(GROUPS, {"name": "iris"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == contributor.username


def test_the_database_holds_only_the_digest(contributor):
    token, key = token_issue(user=contributor, name="ci")

    row = ApiToken.objects.filter(pk=token.pk).values().get()

    assert row["digest"] == hash_key(key)
    assert not any(key in str(value) for value in row.values())


def test_using_a_token_records_when_it_was_last_used(viewer):
    token, key = token_issue(user=viewer)

    token_client(key).get(GROUPS)

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_token_is_refused(viewer):
    token, key = token_issue(user=viewer)
    token_revoke(token=token)

    response = token_client(key).get(GROUPS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_expired_token_is_refused(viewer):
    token, key = token_issue(
        user=viewer, expires_at=timezone.now() + timedelta(hours=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = token_client(key).get(GROUPS)

    assert response.status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(viewer):
    _, key = token_issue(user=viewer)
    viewer.is_active = False
    viewer.save()

    response = token_client(key).get(GROUPS)

    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Token mr_not-a-real-key", "Token", "Token a b", "token mr_unknown"],
)
def test_a_bad_token_header_is_refused(header, db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(GROUPS)

    assert response.status_code == 401


def test_the_digest_itself_is_not_a_key(viewer):
    token, _ = token_issue(user=viewer)

    response = token_client(token.digest).get(GROUPS)

    assert response.status_code == 401


def test_a_token_of_a_user_without_a_role_gets_403(make_user):
    _, key = token_issue(user=make_user())

    response = token_client(key).get(GROUPS)

    assert response.status_code == 403


def test_create_token_prints_a_working_key(viewer):
    out = io.StringIO()

    call_command("create_token", viewer.username, "--days", "1", stdout=out)

    key = out.getvalue().strip()
    assert key.startswith("mr_")
    assert token_client(key).get(GROUPS).status_code == 200
    token = ApiToken.objects.get(digest=hash_key(key))
    assert token.expires_at > timezone.now()


def test_create_token_refuses_an_unknown_user(db):
    with pytest.raises(CommandError):
        call_command("create_token", "nobody", stdout=io.StringIO())


@pytest.mark.parametrize("days", ["0", "-1"])
def test_create_token_refuses_a_lifetime_under_a_day(days, viewer):
    with pytest.raises(CommandError):
        call_command("create_token", viewer.username, "--days", days)

    assert not ApiToken.objects.exists()
