"""Admin of tokens, the audit trail, and users' roles.

Tokens and roles change here only through ``accounts.services``, so every change is
audited: tokens are read-only with a "revoke" action, and a user's role groups and
superuser flag are handed to ``user_roles_set`` instead of being saved by the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from accounts import services
from accounts.models import (
    AccessKey,
    ApiToken,
    AuditEvent,
    IdempotencyKey,
    ServiceAccount,
)
from accounts.roles import ALL_ROLES, Role, has_role
from common.admin import ReadOnlyAdmin


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
    fields = (
        "user",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        # Keys are shown once; issue them with `manage.py create_token` or the API.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # revoke instead: a revocation is audited, a deletion would not be

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: Any, queryset: Any) -> None:
        for token in queryset.filter(revoked_at__isnull=True):
            services.token_revoke(token=token, actor=request.user, via="admin")
        messages.success(request, "Revoked.")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The security audit trail: read-only."""

    list_display = ["created_at", "kind", "actor_name", "subject_name", "via"]
    list_filter = ["kind", "via"]
    search_fields = ["actor_name", "subject_name"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(AccessKey)
class AccessKeyAdmin(ReadOnlyAdmin):
    """SigV4 access keys: listed, never shown (the secret is sealed); issued and
    revoked through the API and ``accounts.services``."""

    list_display = ["access_key_id", "user", "name", "created_at", "revoked_at"]
    list_select_related = ["user"]
    search_fields = ["access_key_id", "user__username", "name"]
    exclude = ["sealed_secret"]


User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class RegistryUserAdmin(UserAdmin):
    """Role groups and the superuser flag change through ``user_roles_set``."""

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not has_role(request.user, Role.ADMIN):
            fields += ["groups", "is_superuser"]  # only admins give roles
        return fields

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        form.wanted_superuser = None
        if change and "is_superuser" in form.changed_data:
            form.wanted_superuser = obj.is_superuser
            obj.is_superuser = not obj.is_superuser  # the stored value, for now
        super().save_model(request, obj, form, change)

    def save_related(
        self, request: Any, form: Any, formsets: Any, change: bool
    ) -> None:
        wanted_roles = None
        if "groups" in form.cleaned_data:
            chosen = list(form.cleaned_data["groups"])
            wanted_roles = [g.name for g in chosen if g.name in ALL_ROLES]
            held = list(form.instance.groups.filter(name__in=ALL_ROLES))
            form.cleaned_data["groups"] = [
                g for g in chosen if g.name not in ALL_ROLES
            ] + held
        super().save_related(request, form, formsets, change)
        if wanted_roles is not None or form.wanted_superuser is not None:
            services.user_roles_set(
                actor=request.user,
                user=form.instance,
                roles=wanted_roles,
                superuser=form.wanted_superuser,
                via="admin",
            )


class _GroupForm(forms.ModelForm):
    class Meta:
        model = Group
        fields = ["name", "permissions"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        old = self.instance.name if self.instance.pk else None
        if old is not None and name != old and ALL_ROLES & {name, old}:
            # Renaming a group into a role would give the role to all its members,
            # unaudited; roles change per user (the user's page or `set_roles`).
            raise forms.ValidationError(
                "Role groups cannot be renamed, nor renamed to."
            )
        return name


@admin.register(Group)
class RegistryGroupAdmin(GroupAdmin):
    form = _GroupForm

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        if obj is not None and obj.name in ALL_ROLES:
            return False  # would take a role from all its members, unaudited
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        super().delete_queryset(request, queryset.exclude(name__in=ALL_ROLES))


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
