from __future__ import annotations

from rest_framework import serializers

from deployments.models import Deployment, Endpoint, Target


class EndpointSerializer(serializers.ModelSerializer):
    model_group = serializers.CharField(source="group.name", read_only=True)
    live_version = serializers.IntegerField(
        source="live_version.version", read_only=True, default=None
    )
    invocation_url = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = Endpoint
        fields = [
            "name",
            "model_group",
            "auto_deploy",
            "target",
            "webhook_url",
            "webhook_timeout",
            "ray_num_replicas",
            "ray_min_replicas",
            "ray_max_replicas",
            "ray_num_cpus",
            "ray_dashboard_url",
            "ray_serve_url",
            "live_version",
            "live_since",
            "serving_message",
            "invocation_url",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_invocation_url(self, endpoint: Endpoint) -> str:
        return f"/api/v1/endpoints/{endpoint.name}/invocations"


class EndpointCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    model_group = serializers.CharField()
    auto_deploy = serializers.BooleanField(default=True)
    target = serializers.ChoiceField(choices=Target.choices, default=Target.BUILTIN)
    webhook_url = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )
    webhook_secret = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=255, write_only=True
    )
    webhook_timeout = serializers.IntegerField(required=False, default=600)
    ray_num_replicas = serializers.IntegerField(required=False, min_value=1)
    ray_min_replicas = serializers.IntegerField(required=False, min_value=0)
    ray_max_replicas = serializers.IntegerField(
        required=False, allow_null=True, min_value=1
    )
    ray_num_cpus = serializers.FloatField(required=False)
    ray_dashboard_url = serializers.URLField(
        required=False, allow_blank=True, max_length=2000
    )
    ray_serve_url = serializers.URLField(
        required=False, allow_blank=True, max_length=2000
    )


class EndpointUpdateSerializer(serializers.Serializer):
    auto_deploy = serializers.BooleanField(required=False)
    target = serializers.ChoiceField(choices=Target.choices, required=False)
    webhook_url = serializers.CharField(
        required=False, allow_blank=True, max_length=2000
    )
    webhook_secret = serializers.CharField(
        required=False, allow_blank=True, max_length=255, write_only=True
    )
    webhook_timeout = serializers.IntegerField(required=False)
    ray_num_replicas = serializers.IntegerField(required=False, min_value=1)
    ray_min_replicas = serializers.IntegerField(required=False, min_value=0)
    ray_max_replicas = serializers.IntegerField(
        required=False, allow_null=True, min_value=1
    )
    ray_num_cpus = serializers.FloatField(required=False)
    ray_dashboard_url = serializers.URLField(
        required=False, allow_blank=True, max_length=2000
    )
    ray_serve_url = serializers.URLField(
        required=False, allow_blank=True, max_length=2000
    )


class DeploymentSerializer(serializers.ModelSerializer):
    endpoint = serializers.CharField(source="endpoint.name", read_only=True)
    model_group = serializers.CharField(source="version.group.name", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)
    previous_version = serializers.IntegerField(
        source="previous_version.version", read_only=True, default=None
    )
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, default=None
    )
    log = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "endpoint",
            "model_group",
            "version",
            "status",
            "reason",
            "attempts",
            "error",
            "log",
            "previous_version",
            "requested_by",
            "lease_expires_at",
            "callback_deadline",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class DeployRequestSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class StatusReportSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["Succeeded", "Failed"])
    message = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000
    )
