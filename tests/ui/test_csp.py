"""A strict Content-Security-Policy on every answer, and pages that need nothing more:
no inline script, style or event handler in our templates (the browser test in
test_browser.py checks that no page reports a violation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db
TEMPLATES = Path(settings.BASE_DIR) / "templates"

PAGES = [
    "/",
    "/models/iris/",
    "/models/iris/versions/1/",
    "/models/iris/compare/?versions=1,2",
    "/reviews/",
    "/endpoints/iris-prod/",
    "/endpoints/iris-prod/panel/",
    "/activity/",
    "/account/tokens/",
    "/account/access-keys/",
    "/webhooks/",
    "/admin/",
    "/admin/catalog/modelversion/",
    "/api/docs/",
    "/models/no-such-group/",
]


@pytest.fixture(autouse=True)
def _catalog(v2, endpoint):
    """iris v1 and v2 and the endpoint iris-prod."""


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    pairs = (part.strip().split(" ", 1) for part in header.split(";"))
    return {name: value for name, value in pairs}


@pytest.fixture
def staff_admin(admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    return admin_user


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_a_strict_policy(browser_for, staff_admin, path):
    response = browser_for(staff_admin).get(path)

    assert response.status_code in (200, 404)
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/healthz", "/api/v1/model-groups/"]
)
def test_sign_in_probes_and_the_api_carry_it_too(browser_for, path):
    response = browser_for(None).get(path)

    assert directives(response)["frame-ancestors"] == "'none'"


def test_the_api_docs_start_from_a_script_file(browser_for, staff_admin):
    client = browser_for(staff_admin)
    html = client.get("/api/docs/").content.decode()

    sources = re.findall(r'<script src="([^"]+)"', html)
    script = client.get(sources[-1].replace("&amp;", "&"))

    assert "<script>" not in html
    assert "<style>" not in html
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


INLINE = [
    (r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", "an inline script"),
    (r"<style", "a style element"),
    (r"\sstyle=", "a style attribute"),
    (r"\son[a-z]+=", "an event-handler attribute"),
    (r"javascript:", "a javascript: URL"),
    (r"hx-on", "an htmx inline handler"),
]


@pytest.mark.parametrize(
    "template",
    sorted(TEMPLATES.rglob("*.html")),
    ids=lambda path: str(path.relative_to(TEMPLATES)),
)
def test_templates_hold_no_inline_code(template):
    text = template.read_text()

    found = [what for pattern, what in INLINE if re.search(pattern, text)]
    assert not found, f"{template.relative_to(TEMPLATES)} has {', '.join(found)}"
