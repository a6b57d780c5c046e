from typing import Any

from django.contrib import admin

from webhooks.models import Attempt, Delivery, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
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
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def has_add_permission(self, request: Any) -> bool:
        return False  # created through the API, which validates URLs against SSRF


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "number",
        "status_code",
        "response_excerpt",
        "error",
        "duration_ms",
        "started_at",
    ]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False
