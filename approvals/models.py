"""Approval policies, reviews (append-only) and the notifications they cause."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from catalog.models import ModelGroup, ModelVersion
from common.append_only import AppendOnlyModel


class OnExpiry(models.TextChoices):
    NOTIFY = "notify", "Notify only"
    REVOKE = "revoke", "Revoke the approval"


class ApprovalPolicy(models.Model):
    """How a group's versions get approved: quorum, who may review, and gates."""

    group = models.OneToOneField(
        ModelGroup, on_delete=models.CASCADE, related_name="approval_policy"
    )
    required_approvals = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)]
    )
    reviewers = models.ForeignKey(
        Group,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Only members of this group review; empty means every reviewer.",
    )
    allow_self_approval = models.BooleanField(default=False)
    reject_on_first_rejection = models.BooleanField(default=True)
    # [{"metric": "auc", "op": ">=", "value": 0.85}, ...]
    metric_gates = models.JSONField(default=list, blank=True)
    require_model_card = models.BooleanField(default=False)
    require_sample_payload = models.BooleanField(default=False)
    require_lineage_commit = models.BooleanField(default=False)
    # An approval holds this many days from its last approving review (empty: for
    # ever); then an event, and with ``revoke`` the version is revoked.
    approval_valid_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    on_expiry = models.CharField(
        max_length=8, choices=OnExpiry.choices, default=OnExpiry.NOTIFY
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(required_approvals__gte=1),
                name="approvals_quorum_positive",
            )
        ]

    def __str__(self) -> str:
        return f"policy of {self.group_id}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    COMMENT = "comment", "Comment"
    RESUBMIT = "resubmit", "Resubmit"


class Review(AppendOnlyModel):
    """One reviewer's decision on a version in a review round; never changed afterwards.

    A resubmission opens a new round; only the current round's votes count.
    """

    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="reviews",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reviewer_name = models.CharField(max_length=150)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True, max_length=10_000)
    round = models.PositiveIntegerField(default=1)
    status_after = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["version", "round", "reviewer"], name="approvals_review_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_name} {self.decision} v{self.version_id}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """An e-mail to send after commit; the row is the truth, the task only a doorbell."""

    MAX_ATTEMPTS = 5

    kind = models.CharField(max_length=64)
    event_id = models.BigIntegerField(null=True)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(
        max_length=16,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} → {len(self.recipients)} recipient(s)"


class MetricDirection(models.Model):
    """Whether a higher value of one metric of a group is better; metrics without a
    row follow ``approvals.directions.higher_is_better``'s rule of names."""

    group = models.ForeignKey(
        ModelGroup, on_delete=models.CASCADE, related_name="metric_directions"
    )
    metric = models.CharField(max_length=64)
    higher_is_better = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "metric"],
                name="one_direction_per_metric",
                violation_error_message="This metric already has a direction.",
            )
        ]
        ordering = ["group", "metric"]

    def __str__(self) -> str:
        arrow = "higher" if self.higher_is_better else "lower"
        return f"{self.group.name}: {self.metric} ({arrow} is better)"
