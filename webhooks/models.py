"""Webhook subscriptions to registry events, and the log of every delivery attempt."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models import ModelGroup


class PayloadFormat(models.TextChoices):
    REGISTRY = "registry", "Registry event"
    SAGEMAKER = "sagemaker", "SageMaker Model Package State Change"


class Subscription(models.Model):
    """Send every event of ``events`` (optionally of one group) to ``url``, signed."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)  # event kinds; ["*"] for all
    model_group = models.ForeignKey(
        ModelGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    secret = models.CharField(max_length=255)
    payload_format = models.CharField(
        max_length=16, choices=PayloadFormat.choices, default=PayloadFormat.REGISTRY
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"webhook {self.pk} → {self.url}"

    def wants(self, kind: str, group_id: int | None) -> bool:
        kinds_ok = "*" in self.events or kind in self.events
        return kinds_ok and (
            self.model_group_id is None or self.model_group_id == group_id
        )


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"  # its webhook was deactivated


class Delivery(models.Model):
    """One event (or test) for one subscription; retried until it succeeds or the
    retry window closes. The body is fixed when the delivery is created."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=64)
    payload = models.JSONField()
    redelivery_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"],
                name="webhooks_one_per_event",
                condition=models.Q(event_id__isnull=False, redelivery_of__isnull=True),
            ),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.kind} → {self.subscription_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP POST of a delivery, as the receiver answered it."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
