from __future__ import annotations

from rest_framework import serializers

from webhooks.models import Attempt, Delivery, PayloadFormat, Subscription


class SubscriptionSerializer(serializers.ModelSerializer):
    model_group = serializers.CharField(
        source="model_group.name", read_only=True, default=None
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "url",
            "events",
            "model_group",
            "payload_format",
            "active",
            "description",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SubscriptionWriteSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False
    )
    model_group = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    secret = serializers.CharField(min_length=16, max_length=255, write_only=True)
    payload_format = serializers.ChoiceField(
        choices=PayloadFormat.choices, default=PayloadFormat.REGISTRY
    )
    active = serializers.BooleanField(default=True)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = [
            "number",
            "status_code",
            "response_excerpt",
            "error",
            "duration_ms",
            "started_at",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    attempt_log = AttemptSerializer(many=True, read_only=True)
    redelivery_of = serializers.UUIDField(
        source="redelivery_of.delivery_id", read_only=True, default=None
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "delivery_id",
            "kind",
            "event_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "finished_at",
            "redelivery_of",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields
