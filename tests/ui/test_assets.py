"""Assets are vendored and served by the app: no page loads anything from elsewhere."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _catalog(v2, endpoint):
    """iris v1 and v2 and the endpoint iris-prod."""


def assets_of(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/models/iris/",
        "/models/iris/versions/1/",
        "/models/iris/compare/?versions=1,2",
        "/reviews/",
        "/endpoints/iris-prod/",
        "/activity/",
        "/account/tokens/",
        "/accounts/login/",
    ],
)
def test_pages_load_only_their_own_assets_and_under_300_kb_compressed(
    browser_for, admin_user, path
):
    html = browser_for(admin_user).get(path).content.decode()

    assets = [a for a in assets_of(html) if not a.startswith("data:")]
    assert assets
    assert all(a.startswith("/static/") for a in assets), assets
    total = 0
    for asset in assets:
        found = finders.find(asset.removeprefix("/static/"))
        assert found, asset
        total += len(gzip.compress(Path(found).read_bytes()))
    assert total <= 300 * 1024


def test_no_template_or_static_file_names_a_cdn():
    pattern = re.compile(r"(https?:)?//(cdn|unpkg|cdnjs|jsdelivr|fonts\.googleapis)")
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("static/css/*.css")]
    files += list(ROOT.glob("static/js/*.js"))

    assert files
    assert [str(f) for f in files if pattern.search(f.read_text())] == []


def test_the_vendored_libraries_are_real_files():
    for name in ("htmx-2.0.11.min.js", "uPlot-1.6.32.iife.min.js"):
        path = ROOT / "static" / "vendor" / name
        assert path.stat().st_size > 20_000, name
        assert not path.is_symlink()
