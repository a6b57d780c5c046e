"""Issue 10, defect 4: first writers of a new alias race cleanly (last writer wins)."""

from __future__ import annotations

import pytest
from django.db import connection

from catalog import services
from catalog.models import Alias, Event
from tests.concurrency import run_at_once


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_sets_of_a_new_alias_never_fail(
    make_group, make_version, contributor
):
    group = make_group("iris")
    versions = [make_version(group) for _ in range(4)]
    writers = 16 if connection.vendor == "postgresql" else 8
    names = [f"race-{round_}" for round_ in range(3)]
    jobs = [
        (
            lambda name=name, number=versions[i % 4].version: services.alias_set(
                actor=contributor, group=group, name=name, version_number=number
            )
        )
        for name in names
        for i in range(writers)
    ]

    errors = run_at_once(jobs)

    assert errors == []
    for name in names:
        (alias,) = Alias.objects.filter(group=group, name=name)
        # The alias points where the last recorded move took it.
        last = Event.objects.filter(kind="alias.set", payload__alias=name).first()
        assert last.payload["to"] == alias.version.version
