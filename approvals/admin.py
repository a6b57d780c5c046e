from typing import Any

from django.contrib import admin, messages

from approvals import services
from approvals.models import ApprovalPolicy, MetricDirection, Notification, Review
from common.admin import ReadOnlyAdmin
from common.errors import DomainError


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "group",
        "required_approvals",
        "reviewers",
        "allow_self_approval",
        "reject_on_first_rejection",
        "updated_at",
    ]
    list_select_related = ["group", "reviewers"]
    readonly_fields = ["updated_by", "updated_at"]

    def save_model(
        self, request: Any, obj: ApprovalPolicy, form: Any, change: bool
    ) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in services.POLICY_FIELDS
            if name in form.cleaned_data
        }
        if fields.get("reviewers") is not None:
            fields["reviewers"] = fields["reviewers"].name
        try:
            services.policy_update(actor=request.user, group=obj.group, **fields)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = [
        "version",
        "reviewer_name",
        "decision",
        "round",
        "status_after",
        "created_at",
    ]
    list_filter = ["decision"]
    search_fields = ["reviewer_name", "comment"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """E-mails sent or to send: a delivery log, kept by the notification sweeper."""

    list_display = ["kind", "subject", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind"]


@admin.register(MetricDirection)
class MetricDirectionAdmin(admin.ModelAdmin):
    """Which way a group's metric is better, where the rule of names guesses wrong."""

    list_display = ["group", "metric", "higher_is_better"]
    list_filter = ["higher_is_better"]
    list_select_related = ["group"]
    search_fields = ["group__name", "metric"]
    autocomplete_fields = ["group"]
