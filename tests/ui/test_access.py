"""Every page: sign-in required, a registry role required, then open to every role."""

from __future__ import annotations

import re

import pytest

from tests.ui.helpers import ROLES

PAGES = [
    "/",
    "/?q=iris&tag=team:ml&sort=-created_at",
    "/models/iris/",
    "/models/iris/?approval_status=PendingManualApproval&metric=accuracy>=0.5",
    "/models/iris/versions/1/",
    "/models/iris/compare/?versions=1,2",
    "/models/iris/compare/?versions=1,2&diff=1",
    "/reviews/",
    "/endpoints/",
    "/endpoints/iris-prod/",
    "/endpoints/iris-prod/panel/",
    "/activity/",
    "/activity/?kind=version.registered&group=iris",
    "/account/tokens/",
    "/account/access-keys/",
]
POSTS = [
    ("/models/iris/versions/1/review/", {"decision": "comment", "comment": "hi"}),
    ("/models/iris/versions/1/resubmit/", {"comment": "again"}),
    ("/models/iris/versions/1/edit/", {"description": "x"}),
    ("/endpoints/iris-prod/rollback/", {}),
    ("/endpoints/iris-prod/deploy/", {"version": "1"}),
    ("/endpoints/iris-prod/try/", {"body": ""}),
    ("/account/tokens/", {"name": "ci"}),
    ("/account/access-keys/", {"name": "ci"}),
]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catalog(v2, endpoint):
    """iris v1 and v2 (pending) and the endpoint iris-prod."""


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(browser_for, path):
    response = browser_for(None).get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", PAGES)
def test_a_user_without_a_registry_role_gets_403(browser_for, norole, path):
    response = browser_for(norole).get(path)

    assert response.status_code == 403
    assert b"You need a registry role" in response.content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", PAGES)
def test_every_role_reads_every_page(browser_for, persona, role, path):
    response = browser_for(persona(role)).get(path)

    assert response.status_code == 200, response.content[:500]


@pytest.mark.parametrize(("path", "data"), POSTS)
def test_anonymous_posts_are_sent_to_sign_in(browser_for, path, data):
    response = browser_for(None).post(path, data)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("path", "data"), POSTS)
def test_posts_without_a_registry_role_get_403(browser_for, norole, path, data):
    assert browser_for(norole).post(path, data).status_code == 403


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/models/iris/versions/1/review/", {"decision": "approve"}),
        ("/models/iris/versions/1/edit/", {"description": "changed"}),
        ("/models/iris/versions/1/resubmit/", {"comment": "again"}),
        ("/endpoints/iris-prod/rollback/", {}),
        ("/endpoints/iris-prod/deploy/", {"version": "1"}),
    ],
)
def test_a_viewer_cannot_post_what_needs_another_role(browser_for, viewer, path, data):
    response = browser_for(viewer).post(path, data)

    assert response.status_code == 403
    assert b"You need the" in response.content


def test_pages_that_change_nothing_refuse_post(browser_for, viewer):
    assert browser_for(viewer).post("/").status_code == 405


def test_forms_need_the_csrf_token(browser_for, reviewer):
    client = browser_for(reviewer, enforce_csrf_checks=True)

    response = client.post(
        "/models/iris/versions/1/review/", {"decision": "approve", "comment": ""}
    )

    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_forms_carry_the_csrf_token(browser_for, reviewer):
    html = browser_for(reviewer).get("/models/iris/versions/1/").content.decode()

    forms = re.findall(r'<form method="post".*?</form>', html, re.S)
    assert forms
    assert all("csrfmiddlewaretoken" in form for form in forms)


@pytest.mark.parametrize(
    "path",
    [
        "/models/nope/",
        "/models/iris/versions/99/",
        "/models/iris/compare/?versions=1,99",
        "/endpoints/nope/",
    ],
)
def test_unknown_objects_are_404(browser_for, viewer, path):
    response = browser_for(viewer).get(path)

    assert response.status_code == 404
    assert b"does not exist" in response.content


def test_the_sign_in_page_has_username_and_password_fields(client):
    html = client.get("/accounts/login/").content.decode()

    assert 'name="username"' in html
    assert 'name="password"' in html
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html


def test_signing_in_and_out(client, viewer):
    response = client.post(
        "/accounts/login/", {"username": viewer.username, "password": "pw"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200

    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_on_the_sign_in_page(client, viewer):
    response = client.post(
        "/accounts/login/", {"username": viewer.username, "password": "nope"}
    )

    assert response.status_code == 200
    assert b"didn't match" in response.content
