"""Append-only models (the audit trail): rows are inserted, never changed or removed."""

from __future__ import annotations

from typing import Any

from django.db import models


def _refused(model: Any, verb: str) -> PermissionError:
    name = str(model._meta.verbose_name_plural).capitalize()
    return PermissionError(f"{name} are append-only and cannot be {verb}.")


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise _refused(self.model, "updated")

    def delete(self) -> Any:
        raise _refused(self.model, "deleted")


class AppendOnlyModel(models.Model):
    """Saving an existing row, or deleting one, is refused."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise _refused(self, "updated")
        # force_insert: a new instance carrying an existing id must not overwrite it.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise _refused(self, "deleted")
