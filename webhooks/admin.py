from typing import Any

from django.contrib import admin, messages

from common.admin import DeleteThroughService, ReadOnlyAdmin, ReadOnlyInline
from common.errors import DomainError
from webhooks import services
from webhooks.models import Attempt, Delivery, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = [
        "id",
        "url",
        "payload_format",
        "active",
        "model_group",
        "created_at",
    ]
    list_filter = ["active", "payload_format"]
    exclude = ["secret"]
    # A new URL needs its secret set again: the owner changes it through the API.
    readonly_fields = ["url", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request: Any) -> bool:
        return False  # created through the API, which validates URLs against SSRF

    def save_model(
        self, request: Any, obj: Subscription, form: Any, change: bool
    ) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.subscription_update(
                actor=request.user,
                subscription=Subscription.objects.get(pk=obj.pk),
                **fields,
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request: Any, obj: Subscription) -> None:
        services.subscription_delete(actor=request.user, subscription=obj)


class AttemptInline(ReadOnlyInline):
    model = Attempt
    fields = [
        "number",
        "status_code",
        "response_excerpt",
        "error",
        "duration_ms",
        "started_at",
    ]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "delivery_id",
        "subscription",
        "kind",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status", "kind"]
    inlines = [AttemptInline]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ["delivery", "number", "status_code", "duration_ms", "started_at"]
    list_select_related = ["delivery"]
