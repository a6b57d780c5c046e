"""Issue 11: the import rules between layers hold (read from the source with ``ast``).

``catalog`` depends on no other app of ours; ``approvals``, ``deployments`` and
``webhooks`` depend on ``catalog`` (and ``accounts``), never on each other; only
``pages`` composes them. The helper modules of ``registry_site`` import no app.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = {"accounts", "catalog", "approvals", "deployments", "webhooks", "pages"}
DOMAIN = {"catalog", "approvals", "deployments", "webhooks"}

FORBIDDEN = {
    "catalog": {"approvals", "deployments", "webhooks", "pages"},
    "approvals": {"deployments", "webhooks", "pages"},
    "deployments": {"approvals", "webhooks", "pages"},
    "webhooks": {"approvals", "deployments", "pages"},
    "accounts": DOMAIN | {"pages"},
}

# registry_site is the wiring (which includes every app) plus helpers that anyone
# may import and that therefore import no app. Every module is one or the other.
WIRING = {
    "registry_site/__init__.py",
    "registry_site/celery.py",
    "registry_site/settings.py",
    "registry_site/test_settings.py",
    "registry_site/urls.py",
    "registry_site/ui_urls.py",
    "registry_site/wsgi.py",
    "registry_site/views.py",
    "registry_site/demo.py",
    "registry_site/launcher.py",
    "registry_site/management/__init__.py",
    "registry_site/management/commands/__init__.py",
    "registry_site/management/commands/seed_demo.py",
}
HELPERS = {
    "registry_site/admin.py",
    "registry_site/append_only.py",
    "registry_site/broker.py",
    "registry_site/converters.py",
    "registry_site/doorbell.py",
    "registry_site/env.py",
    "registry_site/errors.py",
    "registry_site/filters.py",
    "registry_site/handlers.py",
    "registry_site/jsonsafe.py",
    "registry_site/leases.py",
    "registry_site/prepare.py",
    "registry_site/middleware.py",
    "registry_site/outbound.py",
    "registry_site/pagination.py",
    "registry_site/routers.py",
    "registry_site/sagemaker.py",
    "registry_site/ui.py",
}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path, package: str) -> set[str]:
    """Top-level package of every import in the file, at any depth (also inside
    functions); a relative import stays inside ``package``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(package)
            elif node.module:
                found.add(node.module.split(".")[0])
    return found


def offences(package: str, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in sorted(imported(path, package) & forbidden)
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_an_app_imports_no_app_beside_or_above_it(package):
    assert modules(package), f"no modules found in {package}"

    assert offences(package, FORBIDDEN[package]) == []


@pytest.mark.parametrize("helper", sorted(HELPERS))
def test_a_registry_site_helper_imports_no_app(helper):
    names = imported(ROOT / helper, "registry_site")

    assert names & APPS == set(), f"{helper} imports {sorted(names & APPS)}"


def test_every_registry_site_module_is_wiring_or_a_helper():
    found = {str(path.relative_to(ROOT)) for path in modules("registry_site")}
    found = {name for name in found if "/migrations/" not in name}

    assert found - WIRING - HELPERS == set(), "classify the new module above"
    assert (WIRING | HELPERS) - found == set(), "a listed module is gone"


def test_the_check_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n"
        "    from approvals import policies\n"
        "    import deployments.models\n"
        "    from . import selectors\n"
    )

    assert imported(probe, "catalog") == {"approvals", "deployments", "catalog"}
