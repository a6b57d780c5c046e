"""Aliases on the version page: set, move and remove (contributors; issue 14, item 8
without protected aliases)."""

from __future__ import annotations

import pytest

from catalog.models import Alias

pytestmark = pytest.mark.django_db
V1 = "/models/iris/versions/1/"


def test_a_contributor_points_an_alias_at_a_version(browser_for, contributor, v2):
    response = browser_for(contributor).post(
        "/models/iris/aliases/",
        {"name": "candidate", "version": "1", "next": V1},
        follow=True,
    )

    assert Alias.objects.get(name="candidate").version.version == 1
    assert b"@candidate points at iris v1." in response.content
    assert response.redirect_chain[-1][0] == V1


def test_setting_it_on_another_version_moves_it(browser_for, contributor, v2):
    client = browser_for(contributor)
    client.post("/models/iris/aliases/", {"name": "candidate", "version": "1"})

    client.post("/models/iris/aliases/", {"name": "candidate", "version": "2"})

    assert Alias.objects.get(name="candidate").version.version == 2


def test_a_contributor_removes_an_alias(browser_for, contributor, v2):
    client = browser_for(contributor)
    client.post("/models/iris/aliases/", {"name": "candidate", "version": "1"})
    html = client.get(V1).content.decode()
    assert 'action="/models/iris/aliases/candidate/delete/"' in html

    response = client.post(
        "/models/iris/aliases/candidate/delete/", {"next": V1}, follow=True
    )

    assert not Alias.objects.exists()
    assert b"Removed @candidate from iris." in response.content


def test_a_bad_alias_name_is_explained(browser_for, contributor, v2):
    response = browser_for(contributor).post(
        "/models/iris/aliases/", {"name": "latest", "version": "1"}, follow=True
    )

    assert b"is reserved" in response.content
    assert not Alias.objects.exists()


def test_a_viewer_sees_no_alias_form_and_is_refused(browser_for, viewer, v2):
    client = browser_for(viewer)

    html = client.get(V1).content.decode()
    response = client.post("/models/iris/aliases/", {"name": "x", "version": "1"})

    assert 'action="/models/iris/aliases/"' not in html
    assert response.status_code == 403
    assert not Alias.objects.exists()
