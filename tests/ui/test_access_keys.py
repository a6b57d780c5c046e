"""The access keys page: create (secret shown once, POST-redirect-GET), list, revoke
with a confirmation; only the scopes the user's roles allow are offered."""

from __future__ import annotations

import re

import pytest

from accounts.models import AccessKey
from accounts.services import access_key_authenticate, access_key_issue

pytestmark = pytest.mark.django_db
PAGE = "/account/access-keys/"


def test_creating_a_key_shows_its_secret_once(browser_for, contributor):
    client = browser_for(contributor)

    response = client.post(PAGE, {"name": "pipeline", "scopes": ["read"]}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    html = response.content.decode()
    key_id = re.search(r'id="new-key-id" value="([^"]+)"', html).group(1)
    secret = re.search(r'id="new-key" value="([^"]+)"', html).group(1)
    key = AccessKey.objects.get(user=contributor)
    assert (key.access_key_id, key.name, key.scopes) == (key_id, "pipeline", ["read"])
    match = access_key_authenticate(key_id)
    assert match is not None and match.secret == secret
    assert "no-store" in response["Cache-Control"]
    again = client.get(PAGE).content.decode()
    assert secret not in again
    assert key_id in again  # listed, without its secret
    assert AccessKey.objects.count() == 1  # the reload created nothing


def test_only_the_scopes_the_roles_allow_are_offered(browser_for, viewer):
    html = browser_for(viewer).get(PAGE).content.decode()

    assert 'value="read"' in html
    assert 'value="write"' not in html
    response = browser_for(viewer).post(PAGE, {"scopes": ["write"]})
    assert response.status_code == 400
    assert not AccessKey.objects.exists()


def test_the_page_lists_only_the_users_own_keys(browser_for, viewer, contributor):
    mine, _ = access_key_issue(actor=viewer, name="mine")
    theirs, _ = access_key_issue(actor=contributor, name="theirs")

    html = browser_for(viewer).get(PAGE).content.decode()

    assert mine.access_key_id in html
    assert theirs.access_key_id not in html


def test_revoking_asks_first_then_revokes(browser_for, contributor):
    key, _ = access_key_issue(actor=contributor, name="ci")
    client = browser_for(contributor)
    url = f"/account/access-keys/{key.pk}/revoke/"

    asked = client.post(url)
    assert asked.status_code == 200
    assert f"Revoke access key {key.access_key_id}?" in asked.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None

    done = client.post(url, {"confirm": "1"}, follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert access_key_authenticate(key.access_key_id) is None
    assert "is revoked" in done.content.decode()


def test_nobody_revokes_another_users_key(browser_for, viewer, contributor):
    key, _ = access_key_issue(actor=contributor)

    response = browser_for(viewer).post(
        f"/account/access-keys/{key.pk}/revoke/", {"confirm": "1"}
    )

    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert "/login/" in response["Location"]
