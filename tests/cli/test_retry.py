"""The CLI repeats a request once when its connection breaks, only where repeating is
safe: idempotent methods, and POSTs that carry an ``Idempotency-Key``."""

from __future__ import annotations

import pytest

from catalog.models import ModelGroup, ModelVersion

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("fate", ["reset", "lose_answer"])
def test_a_read_is_repeated_once_on_a_broken_connection(cli, breaking_proxy, fate):
    cli("groups", "create", "iris")
    proxy = breaking_proxy(fate)

    shown = cli("groups", "show", "iris", url=proxy.url)

    assert shown.returncode == 0, shown.stderr
    assert proxy.connections == 2


def test_a_read_is_repeated_only_once(cli, breaking_proxy):
    cli("groups", "create", "iris")
    proxy = breaking_proxy("reset", "reset")

    shown = cli("groups", "show", "iris", url=proxy.url)

    assert shown.returncode == 3
    assert "cannot reach the registry" in shown.stderr
    assert proxy.connections == 2


def test_a_post_without_a_key_is_not_repeated(cli, breaking_proxy):
    proxy = breaking_proxy("lose_answer")

    created = cli("groups", "create", "iris", url=proxy.url)

    assert created.returncode == 3
    assert proxy.connections == 1
    assert ModelGroup.objects.filter(name="iris").count() == 1


@pytest.mark.parametrize("fate", ["reset", "lose_answer"])
def test_an_upload_with_a_key_is_repeated_and_registered_once(
    cli, breaking_proxy, files, fate
):
    cli("groups", "create", "iris")
    proxy = breaking_proxy(fate)

    registered = cli(
        "versions",
        "register",
        "iris",
        files["model"],
        "--idempotency-key",
        "pipeline-run-7",
        "--no-progress",
        url=proxy.url,
    )

    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "1"
    assert proxy.connections == 2
    assert ModelVersion.objects.filter(group__name="iris").count() == 1
