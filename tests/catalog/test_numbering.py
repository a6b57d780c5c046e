"""Invariant 1: version numbers in a group are exactly 1..N under concurrency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from catalog import services
from catalog.models import Event, ModelGroup, ModelVersion
from tests import models as real_models
from tests.concurrency import run_at_once


def _register_concurrently(jobs: list[Callable[[], Any]]) -> list[BaseException]:
    """Run the jobs at once; on PostgreSQL at most 80 at a time (each thread holds a
    connection, and the default server allows 100)."""
    limit = 80 if connection.vendor == "postgresql" else len(jobs)
    if len(jobs) > limit:
        return _register_concurrently(jobs[:limit]) + _register_concurrently(
            jobs[limit:]
        )
    return run_at_once(jobs)


def _job(user: Any, group: ModelGroup, content: bytes) -> Callable[[], Any]:
    return lambda: services.version_register(
        actor=user,
        group=group,
        artifact=ContentFile(content, name="m.onnx"),
        metrics={"accuracy": 0.9},
    )


def _numbers(group: ModelGroup) -> list[int]:
    return sorted(
        ModelVersion.objects.filter(group=group).values_list("version", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_into_one_group_number_exactly_1_to_n(contributor):
    count = 64 if connection.vendor == "postgresql" else 32
    group = services.group_create(actor=contributor, name="race")
    content = real_models.iris_onnx()

    errors = _register_concurrently([_job(contributor, group, content)] * count)

    assert errors == []
    assert _numbers(group) == list(range(1, count + 1))
    group.refresh_from_db()
    assert group.next_version == count + 1
    assert (
        Event.objects.filter(kind="version.registered", group_name="race").count()
        == count
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_into_eight_groups_number_each_1_to_16(contributor):
    groups = [services.group_create(actor=contributor, name=f"g{i}") for i in range(8)]
    content = real_models.iris_onnx()
    jobs = [_job(contributor, group, content) for group in groups for _ in range(16)]

    errors = _register_concurrently(jobs)

    assert errors == []
    for group in groups:
        assert _numbers(group) == list(range(1, 17))
