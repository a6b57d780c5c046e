from django.contrib import admin

from accounts.models import ApiToken, IdempotencyKey, ServiceAccount
from registry_site.admin import ReadOnlyAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "user",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = [
        "user",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        # Keys are shown once; issue them with `manage.py create_token` or the API.
        return False


@admin.register(ServiceAccount)
class ServiceAccountAdmin(ReadOnlyAdmin):
    """Created through the API (an audited service); its user's roles are changed
    under Users."""

    list_display = ["user", "description", "created_by", "created_at"]
    list_select_related = ["user", "created_by"]
    search_fields = ["user__username", "description"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "user", "path", "status_code", "created_at"]
    list_select_related = ["user"]
    search_fields = ["key", "path", "user__username"]
