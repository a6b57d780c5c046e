"""Admin pieces shared by the apps: records that the admin shows but never changes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs and trails (events, reviews, deployments, deliveries…): view only. They
    are written by the services alone; changing one would falsify the record.

    A row is never deleted on its own, but the delete permission stays: deleting
    what a log belongs to (an endpoint, through its service) takes its log with it,
    and the admin refuses a deletion that cascades to rows it may not delete.
    """

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        raise PermissionDenied

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, context)


class ReadOnlyInline(admin.TabularInline):
    """The rows of a log shown under their parent, view only."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class DeleteThroughService:
    """An admin whose "delete selected" deletes each row through ``delete_model``,
    which the admin points at the app's delete service (never a bulk SQL delete)."""

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)  # type: ignore[attr-defined]
