"""Admin: browsing and the few edits admins need; writes go through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages

from catalog import services
from catalog.models import (
    Alias,
    Attestation,
    Evaluation,
    EvaluationSet,
    Event,
    HandledEvent,
    Metric,
    ModelGroup,
    ModelVersion,
    SigningKey,
    TrustedSigningKey,
)
from common.admin import DeleteThroughService, ReadOnlyAdmin, ReadOnlyInline
from common.errors import DomainError


@admin.register(ModelGroup)
class ModelGroupAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at", "next_version", "allow_pickle"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "next_version", "created_by", "created_at", "updated_at"]
    fields = [
        "name",
        "description",
        "tags",
        "allow_pickle",
        "next_version",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: Any) -> bool:
        return False  # groups are created through the API or the UI (services)

    def save_model(
        self, request: Any, obj: ModelGroup, form: Any, change: bool
    ) -> None:
        try:
            services.group_update(
                actor=request.user,
                group=obj,
                description=obj.description,
                tags=obj.tags,
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        if "allow_pickle" in form.changed_data:
            try:
                services.group_pickle_policy_set(
                    actor=request.user, group=obj, allow=obj.allow_pickle
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request: Any, obj: ModelGroup) -> None:
        services.group_delete(actor=request.user, group=obj)


class MetricInline(ReadOnlyInline):
    model = Metric
    fields = ["name", "value"]


@admin.register(ModelVersion)
class ModelVersionAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = [
        "group",
        "version",
        "approval_status",
        "registration_status",
        "artifact_format",
        "created_by",
        "created_at",
    ]
    list_filter = ["approval_status", "registration_status", "artifact_format"]
    search_fields = ["group__name", "description"]
    list_select_related = ["group", "created_by"]
    inlines = [MetricInline]
    readonly_fields = [
        "group",
        "version",
        "approval_status",
        "registration_status",
        "artifact_key",
        "artifact_sha256",
        "artifact_size",
        "artifact_format",
        "artifact_filename",
        "metrics",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: Any) -> bool:
        return False  # registration needs an artifact upload: use the API or the UI

    def save_model(
        self, request: Any, obj: ModelVersion, form: Any, change: bool
    ) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name
            in {
                "description",
                "model_card",
                "hyperparameters",
                "customer_metadata",
                "tags",
                "lineage",
                "sample_payload",
                "input_schema",
                "output_schema",
            }
        }
        original = ModelVersion.objects.get(pk=obj.pk)
        try:
            services.version_update(actor=request.user, version=original, **fields)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def save_related(
        self, request: Any, form: Any, formsets: Any, change: bool
    ) -> None:
        pass  # metrics are read-only here

    def delete_model(self, request: Any, obj: ModelVersion) -> None:
        services.version_delete(actor=request.user, version=obj)


@admin.register(Alias)
class AliasAdmin(admin.ModelAdmin):
    list_display = ["group", "name", "version", "updated_by", "updated_at"]
    list_select_related = ["group", "version", "updated_by"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "group_name",
        "version_number",
        "actor_name",
        "created_at",
    ]
    list_filter = ["kind"]
    search_fields = ["group_name", "actor_name", "kind"]
    readonly_fields = [
        "kind",
        "group_name",
        "version_number",
        "actor_name",
        "payload",
        "created_at",
    ]
    exclude = ["group", "version", "actor"]


@admin.register(Metric)
class MetricAdmin(ReadOnlyAdmin):
    """A copy of each version's ``metrics``, kept by the catalog service."""

    list_display = ["version", "name", "value"]
    list_select_related = ["version__group"]
    search_fields = ["name", "version__group__name"]


@admin.register(HandledEvent)
class HandledEventAdmin(ReadOnlyAdmin):
    """Which outbox consumer handled which event (catalog.outbox)."""

    list_display = ["consumer", "event_id", "handled_at"]
    list_filter = ["consumer"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    """Public keys the registry has signed attestations with (published at
    /api/v1/signing-keys/); the private key lives in the settings, never here."""

    list_display = ["keyid", "algorithm", "active", "created_at"]
    list_filter = ["active", "algorithm"]


@admin.register(TrustedSigningKey)
class TrustedSigningKeyAdmin(ReadOnlyAdmin):
    """Public keys whose model-signing signatures a group trusts; admins change
    them through the API (``/api/v1/model-groups/{name}/trusted-keys/``), audited."""

    list_display = ["group", "name", "fingerprint", "added_by", "created_at"]
    search_fields = ["name", "fingerprint"]


@admin.register(Attestation)
class AttestationAdmin(ReadOnlyAdmin):
    """Signed approvals and revocations, written with the approval (append-only)."""

    list_display = ["id", "kind", "version", "keyid", "event_id", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["version__group"]


@admin.register(EvaluationSet)
class EvaluationSetAdmin(ReadOnlyAdmin):
    """Evaluation sets: uploaded through the API, append-only."""

    list_display = ["group", "version", "task", "label_column", "rows", "created_at"]
    list_filter = ["task"]
    search_fields = ["group__name"]


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    """The registry's evaluations of versions (written by the evaluation task)."""

    list_display = ["version", "evaluation_set", "status", "attempts", "finished_at"]
    list_filter = ["status"]
