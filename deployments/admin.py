"""Admin: endpoints (changes go through the services) and their deployments (a log)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages

from common.admin import DeleteThroughService, ReadOnlyAdmin, ReadOnlyInline
from common.errors import DomainError
from deployments import services
from deployments.models import (
    ClusterLock,
    Deployment,
    DeploymentLogLine,
    Endpoint,
    LoadCheck,
    WorkerHeartbeat,
)


@admin.register(Endpoint)
class EndpointAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = [
        "name",
        "group",
        "target",
        "auto_deploy",
        "live_version",
        "created_by",
    ]
    list_filter = ["target", "auto_deploy"]
    list_select_related = ["group", "live_version", "created_by"]
    search_fields = ["name", "group__name"]
    # The target and its URL and secret are the owner's (API or UI, which check the
    # URL and ask for the secret); the admin toggles only what needs no secret.
    fields = [
        "name",
        "group",
        "auto_deploy",
        "webhook_timeout",
        "target",
        "webhook_url",
        "live_version",
        "live_since",
        "serving_message",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "name",
        "group",
        "target",
        "webhook_url",
        "live_version",
        "live_since",
        "serving_message",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: Any) -> bool:
        return False  # created through the API or the UI (services)

    def save_model(self, request: Any, obj: Endpoint, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.endpoint_update(
                actor=request.user,
                endpoint=Endpoint.objects.get(pk=obj.pk),
                **fields,
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request: Any, obj: Endpoint) -> None:
        services.endpoint_delete(actor=request.user, endpoint=obj)


class LogLineInline(ReadOnlyInline):
    model = DeploymentLogLine
    fields = ["text"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    inlines = [LogLineInline]
    list_display = [
        "id",
        "endpoint",
        "version",
        "reason",
        "status",
        "attempts",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "reason"]
    list_select_related = ["endpoint", "version__group", "requested_by"]
    search_fields = ["endpoint__name"]


@admin.register(DeploymentLogLine)
class DeploymentLogLineAdmin(ReadOnlyAdmin):
    list_display = ["deployment", "created_at", "text"]
    search_fields = ["text"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["lane", "beat_at", "hostname", "pid"]


@admin.register(LoadCheck)
class LoadCheckAdmin(ReadOnlyAdmin):
    list_display = ["version", "checked_at", "fingerprint"]
    list_select_related = ["version__group"]


@admin.register(ClusterLock)
class ClusterLockAdmin(ReadOnlyAdmin):
    """Who holds a serving cluster's application list (a lease; see ray_target)."""

    list_display = ["address", "holder", "lease_expires_at", "attempts"]
    search_fields = ["address"]
