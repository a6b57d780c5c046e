from __future__ import annotations

from rest_framework import serializers

from approvals.models import ApprovalPolicy, OnExpiry, Review


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer_name", read_only=True)
    group = serializers.CharField(source="version.group.name", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "group",
            "version",
            "reviewer",
            "decision",
            "comment",
            "round",
            "status_after",
            "created_at",
        ]
        read_only_fields = fields


class ReviewCreateSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject", "comment"])
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=10_000
    )


class ResubmitSerializer(serializers.Serializer):
    comment = serializers.CharField(required=True, allow_blank=False, max_length=10_000)


class MetricGateSerializer(serializers.Serializer):
    metric = serializers.CharField()
    op = serializers.ChoiceField(choices=[">=", "<=", ">", "<", "=="])
    value = serializers.FloatField()


class ApprovalPolicySerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name", read_only=True)
    reviewers = serializers.CharField(
        source="reviewers.name", allow_null=True, required=False, default=None
    )
    metric_gates = MetricGateSerializer(many=True, required=False)
    is_default = serializers.SerializerMethodField()
    updated_by = serializers.CharField(
        source="updated_by.username", read_only=True, default=None
    )

    class Meta:
        model = ApprovalPolicy
        fields = [
            "group",
            "required_approvals",
            "reviewers",
            "allow_self_approval",
            "reject_on_first_rejection",
            "metric_gates",
            "require_model_card",
            "require_sample_payload",
            "require_lineage_commit",
            "approval_valid_days",
            "on_expiry",
            "is_default",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = ["group", "is_default", "updated_by", "updated_at"]

    def get_is_default(self, policy: ApprovalPolicy) -> bool:
        return policy.pk is None


class PolicyWriteSerializer(serializers.Serializer):
    required_approvals = serializers.IntegerField(
        min_value=1, max_value=50, required=False
    )
    reviewers = serializers.CharField(allow_null=True, allow_blank=True, required=False)
    allow_self_approval = serializers.BooleanField(required=False)
    reject_on_first_rejection = serializers.BooleanField(required=False)
    metric_gates = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=50
    )
    require_model_card = serializers.BooleanField(required=False)
    require_sample_payload = serializers.BooleanField(required=False)
    require_lineage_commit = serializers.BooleanField(required=False)
    approval_valid_days = serializers.IntegerField(
        min_value=1, max_value=36_500, allow_null=True, required=False
    )
    on_expiry = serializers.ChoiceField(choices=OnExpiry.choices, required=False)

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: "Not a policy field." for name in unknown}
            )
        return attrs
