"""The audit trail is append-only: the ORM refuses to change or remove its rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, models, transaction

from approvals.models import Review
from catalog.models import Event
from tests.approvals.helpers import approve

TAMPERED = {Event: "kind", Review: "comment"}


def _save_after_change(row: models.Model) -> None:
    setattr(row, TAMPERED[type(row)], "tampered")
    row.save()


def _overwrite_by_id(row: models.Model) -> None:
    """A new instance carrying an existing row's id, as a careless import builds it."""
    values = {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}
    copy = type(row)(**values)
    setattr(copy, TAMPERED[type(row)], "tampered")
    copy.save()


def _queryset_update(row: models.Model) -> None:
    type(row).objects.filter(pk=row.pk).update(**{TAMPERED[type(row)]: "tampered"})


OPERATIONS: dict[str, Callable[[models.Model], Any]] = {
    "save-after-change": _save_after_change,
    "instance-delete": lambda row: row.delete(),
    "queryset-update": _queryset_update,
    "queryset-delete": lambda row: type(row).objects.filter(pk=row.pk).delete(),
}


@pytest.fixture(params=["event", "review"])
def row(request, version, make_reviewer) -> models.Model:
    """One row of the trail: the registration event, or a review."""
    if request.param == "event":
        return Event.objects.get(kind="version.registered")
    return approve(make_reviewer(), version, "Ship it.").review


def _stored(row: models.Model) -> tuple[Any, ...]:
    return tuple(
        type(row).objects.filter(pk=row.pk).values_list(TAMPERED[type(row)], "id")
    )


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_orm_refuses_to_change_or_remove_a_trail_row(operation, row):
    before = _stored(row)

    with pytest.raises(PermissionError), transaction.atomic():
        OPERATIONS[operation](row)

    assert _stored(row) == before


def test_a_new_instance_with_an_existing_id_cannot_overwrite_a_trail_row(row):
    before = _stored(row)

    with pytest.raises((PermissionError, IntegrityError)), transaction.atomic():
        _overwrite_by_id(row)

    assert _stored(row) == before


def test_new_trail_rows_are_still_written(version, make_reviewer):
    approve(make_reviewer(), version)

    assert Review.objects.count() == 1
    assert Event.objects.filter(kind="version.approved").count() == 1
