"""Issue 11: the import rules between layers hold (read from the source with ``ast``).

``catalog`` depends on no other app of ours; ``approvals``, ``deployments`` and
``webhooks`` depend on ``catalog`` (and ``accounts``), never on each other; only
``pages`` composes them. ``common`` (helpers) imports no app; ``registry_site`` is
only the wiring, which no app imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = {
    "accounts",
    "catalog",
    "approvals",
    "deployments",
    "webhooks",
    "pages",
    "mlflow_api",
    "sagemaker_api",
}
DOMAIN = {"catalog", "approvals", "deployments", "webhooks"}
# API faces: thin apps over services and selectors, imported by no app.
FACES = {"mlflow_api", "sagemaker_api"}

FORBIDDEN = {
    "catalog": {"approvals", "deployments", "webhooks", "pages"} | FACES,
    "approvals": {"deployments", "webhooks", "pages"} | FACES,
    "deployments": {"approvals", "webhooks", "pages"} | FACES,
    "webhooks": {"approvals", "deployments", "pages"} | FACES,
    "accounts": DOMAIN | {"pages"} | FACES,
    "pages": FACES,
    "mlflow_api": {"pages"} | (FACES - {"mlflow_api"}),
    "sagemaker_api": {"pages"} | (FACES - {"sagemaker_api"}),
}
# What a face may use of a domain app: its services, selectors, models (choices) and
# the invocation path (deployments.serving).
FACE_MAY_USE = {"services", "selectors", "models", "serving"}

# registry_site is only the wiring (settings, URLs, Celery, WSGI, the launcher and the
# data-folder command); ``common`` holds helpers that anyone may import and that
# therefore import no app and no wiring; ``demo`` seeds the demo catalog.
WIRING = {
    "registry_site/__init__.py",
    "registry_site/celery.py",
    "registry_site/settings.py",
    "registry_site/test_settings.py",
    "registry_site/urls.py",
    "registry_site/ui_urls.py",
    "registry_site/wsgi.py",
    "registry_site/views.py",
    "registry_site/launcher.py",
    "registry_site/prepare.py",
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


def domain_modules_used(path: Path) -> set[str]:
    """``app.module`` for every import of a domain app's module in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            parts = node.module.split(".")
            if parts[0] in DOMAIN:
                if len(parts) > 1:
                    found.add(".".join(parts[:2]))
                else:
                    found.update(f"{parts[0]}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in DOMAIN:
                    found.add(".".join(parts[:2]))
    return found


@pytest.mark.parametrize("face", sorted(FACES))
def test_a_face_uses_only_services_selectors_and_models(face):
    used = {name for path in modules(face) for name in domain_modules_used(path)}

    assert {name for name in used if name.split(".")[1] not in FACE_MAY_USE} == set()


@pytest.mark.parametrize("helper", modules("common"), ids=lambda path: path.name)
def test_a_common_helper_imports_no_app_and_no_wiring(helper):
    names = imported(helper, "common")

    assert names & (APPS | {"registry_site", "demo"}) == set(), (
        f"{helper.name} imports {sorted(names & (APPS | {'registry_site', 'demo'}))}"
    )


def test_registry_site_holds_only_the_wiring():
    found = {str(path.relative_to(ROOT)) for path in modules("registry_site")}

    assert found - WIRING == set(), "a helper belongs in common/, the demo in demo/"
    assert WIRING - found == set(), "a listed module is gone"


@pytest.mark.parametrize("package", sorted(APPS | {"common", "modelformats"}))
def test_no_app_imports_the_wiring_or_the_demo(package):
    assert offences(package, {"registry_site", "demo"}) == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n"
        "    from approvals import policies\n"
        "    import deployments.models\n"
        "    from . import selectors\n"
    )

    assert imported(probe, "catalog") == {"approvals", "deployments", "catalog"}
