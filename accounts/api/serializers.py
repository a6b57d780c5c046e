from __future__ import annotations

from rest_framework import serializers

from accounts.models import SCOPES, AccessKey, ApiToken, ServiceAccount


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "user",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPES), required=False, allow_empty=False
    )
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False
    )
    user = serializers.CharField(required=False, help_text="admins only: another user")


class ServiceAccountSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    roles = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )


class ServiceAccountOutSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    roles = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None
    )

    class Meta:
        model = ServiceAccount
        fields = ["username", "description", "roles", "created_by", "created_at"]
        read_only_fields = fields

    def get_roles(self, row: ServiceAccount) -> list[str]:
        return sorted(group.name for group in row.user.groups.all())


class AccessKeySerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = AccessKey
        fields = [
            "id",
            "user",
            "name",
            "access_key_id",
            "scopes",
            "created_at",
            "last_used_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = fields


class AccessKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPES), required=False, allow_empty=False
    )
