"""The API tokens page: list, create (key shown once), revoke."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import token_issue

pytestmark = pytest.mark.django_db
PAGE = "/account/tokens/"


def test_creating_a_token_shows_its_key_once(browser_for, contributor):
    client = browser_for(contributor)

    response = client.post(PAGE, {"name": "ci", "expires_days": "30"}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    key = re.search(r'value="(mr_[^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=contributor)
    assert token.name == "ci"
    assert token.prefix == key[:10]
    assert 29 <= (token.expires_at - timezone.now()).days <= 30
    assert "no-store" in response["Cache-Control"]
    assert key not in client.get(PAGE).content.decode()


def test_the_new_key_works_on_the_api(browser_for, client, contributor):
    response = browser_for(contributor).post(PAGE, {"name": "ci"}, follow=True)
    html = response.content.decode()
    key = re.search(r'value="(mr_[^"]+)"', html).group(1)

    response = client.get("/api/v1/model-groups/", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 200


def test_a_token_without_expiry(browser_for, viewer):
    browser_for(viewer).post(PAGE, {"name": "forever", "expires_days": ""})

    assert ApiToken.objects.get(user=viewer).expires_at is None


def test_an_invalid_expiry_is_explained(browser_for, viewer):
    response = browser_for(viewer).post(PAGE, {"name": "x", "expires_days": "0"})

    assert response.status_code == 400
    assert b"greater than or equal to 1" in response.content
    assert not ApiToken.objects.exists()


def test_the_page_lists_only_the_users_own_tokens(browser_for, viewer, contributor):
    token_issue(user=viewer, name="mine")
    token_issue(user=contributor, name="theirs")

    html = browser_for(viewer).get(PAGE).content.decode()

    assert "mine" in html
    assert "theirs" not in html
    assert "Active" in html


def test_reloading_after_creating_a_token_creates_none(browser_for, contributor):
    client = browser_for(contributor)
    client.post(PAGE, {"name": "ci"}, follow=True)

    again = client.get(PAGE)

    assert ApiToken.objects.filter(user=contributor).count() == 1
    assert b'data-testid="new-key"' not in again.content


def test_only_the_scopes_the_roles_allow_are_offered(browser_for, make_user):
    html = browser_for(make_user("reviewer")).get(PAGE).content.decode()

    offered = re.findall(r'name="scopes" value="(\w+)"', html)
    assert offered == ["read", "review", "invoke", "tokens"]


def test_a_scope_the_roles_do_not_allow_is_refused(browser_for, viewer):
    response = browser_for(viewer).post(PAGE, {"name": "x", "scopes": ["deploy"]})

    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_an_admin_is_offered_every_scope(browser_for, make_user):
    html = browser_for(make_user("admin")).get(PAGE).content.decode()

    offered = re.findall(r'name="scopes" value="(\w+)"', html)
    assert offered == ["read", "write", "review", "deploy", "invoke", "tokens"]


def test_revoking_a_token_asks_first(browser_for, viewer):
    token, _ = token_issue(user=viewer, name="old")

    response = browser_for(viewer).post(f"/account/tokens/{token.pk}/revoke/")

    token.refresh_from_db()
    assert token.revoked_at is None
    html = response.content.decode()
    assert "Revoke token mr_" in html
    assert "Every request made with “old”" in html
    assert 'name="confirm" value="1"' in html


def test_revoking_a_token(browser_for, viewer):
    token, _ = token_issue(user=viewer, name="old")

    response = browser_for(viewer).post(
        f"/account/tokens/{token.pk}/revoke/", {"confirm": "1"}, follow=True
    )

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert b"is revoked" in response.content
    assert b"Revoked " in response.content
    assert (
        f'action="/account/tokens/{token.pk}/revoke/"'.encode() not in response.content
    )


def test_someone_elses_token_cannot_be_revoked(browser_for, viewer, contributor):
    token, _ = token_issue(user=contributor, name="theirs")

    response = browser_for(viewer).post(f"/account/tokens/{token.pk}/revoke/")

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_made_on_the_page_carries_the_chosen_scopes(client, make_user):
    from accounts.models import ApiToken

    user = make_user("contributor")
    client.force_login(user)

    response = client.post(
        "/account/tokens/",
        {"name": "ci", "expires_days": "30", "scopes": ["read", "write"]},
    )

    assert response.status_code == 302
    assert ApiToken.objects.get(user=user).scopes == ["read", "write"]
