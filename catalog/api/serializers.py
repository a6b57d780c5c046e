from __future__ import annotations

from datetime import UTC
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import evaluation, folders
from catalog.models import (
    Alias,
    Evaluation,
    EvaluationSet,
    EvaluationTask,
    Event,
    ModelGroup,
    ModelVersion,
    SigningKey,
    TrustedSigningKey,
)
from common import jsonsafe

API = "/api/v1"


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONStringField(serializers.Field):
    """A JSON value sent either as JSON or, in multipart forms, as a JSON string."""

    def __init__(self, *, expect: type | tuple[type, ...] | None = dict, **kwargs: Any):
        self.expect = expect
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        try:
            data = jsonsafe.loads(data) if isinstance(data, str) else data
        except jsonsafe.JSONInputError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        if jsonsafe.depth_exceeded(data):
            raise serializers.ValidationError(
                f"Nested more than {jsonsafe.MAX_DEPTH} levels deep."
            )
        if (
            self.expect is not None
            and data is not None
            and not isinstance(data, self.expect)
        ):
            raise serializers.ValidationError("Must be a JSON object.")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ModelGroupSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    version_count = serializers.IntegerField(read_only=True, default=None)
    latest_version = serializers.IntegerField(
        read_only=True, default=None, allow_null=True
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = ModelGroup
        fields = [
            "name",
            "description",
            "tags",
            "version_count",
            "latest_version",
            "allow_pickle",
            "require_model_signature",
            "protected_aliases",
            "created_by",
            "created_at",
            "updated_at",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, group: ModelGroup) -> str:
        # Built by hand: reverse() costs more than the rest of a row (names are
        # URL-safe by construction).
        return f"{API}/model-groups/{group.name}/"


class GroupCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )
    tags = JSONStringField(required=False, default=dict)


class GroupUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False
    )
    tags = JSONStringField(required=False)
    protected_aliases = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False),
        required=False,
        help_text="Aliases only an Approved version may carry (admins only).",
    )
    require_model_signature = serializers.BooleanField(
        required=False,
        help_text="Refuse uploads without a model-signing signature from a "
        "trusted key (admins only).",
    )


class TrustedKeySerializer(serializers.ModelSerializer):
    added_by = serializers.CharField(source="added_by.username", read_only=True)

    class Meta:
        model = TrustedSigningKey
        fields = [
            "id",
            "name",
            "public_key_pem",
            "fingerprint",
            "added_by",
            "created_at",
        ]
        read_only_fields = fields


class TrustedKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    public_key_pem = serializers.CharField(trim_whitespace=False)


class ArtifactSerializer(serializers.Serializer):
    filename = serializers.CharField(source="artifact_filename")
    format = serializers.CharField(source="artifact_format")
    size = serializers.IntegerField(source="artifact_size")
    sha256 = serializers.CharField(source="artifact_sha256")
    download_url = serializers.SerializerMethodField()

    manifest_sha256 = serializers.CharField(
        required=False,
        help_text="A folder artifact (an MLflow model) only: one SHA-256 over its "
        "files' paths, sizes and digests; size, sha256 and format then describe "
        "the model file MLmodel names.",
    )
    files = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='A folder artifact only: [{"path", "size", "sha256", "url"}].',
    )

    def get_download_url(self, version: ModelVersion) -> str:
        return f"{API}/model-groups/{version.group.name}/versions/{version.version}/artifact"


def folder_fields(version: ModelVersion, base: str) -> dict[str, Any]:
    """A folder artifact's digest and files; nothing for a single file."""
    if not version.is_folder:
        return {}
    files = folders.public_manifest(version)
    for entry in files:
        entry["url"] = f"{base}/files/{entry['path']}"
    return {"manifest_sha256": version.manifest_sha256, "files": files}


class VersionSignatureSerializer(serializers.Serializer):
    """The OpenSSF model-signing signature uploaded with the artifact, as checked."""

    status = serializers.ChoiceField(
        choices=["absent", "verified", "untrusted", "invalid"],
        source="signature_status",
    )
    key = serializers.CharField(
        source="signature_key",
        allow_blank=True,
        help_text="The name of the group's trusted key that verified it.",
    )


def signature_of(version: ModelVersion) -> dict[str, Any]:
    return {"status": version.signature_status, "key": version.signature_key}


class ModelVersionSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name", read_only=True)
    artifact = ArtifactSerializer(source="*", read_only=True)
    aliases = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    url = serializers.SerializerMethodField()
    computed_metrics = serializers.JSONField(
        read_only=True,
        help_text="Metrics the registry computed on an evaluation set: "
        '{name: {"value", "evaluation_set", "sha256"}}.',
    )
    metric_mismatches = serializers.SerializerMethodField()
    signature = VersionSignatureSerializer(source="*", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "group",
            "version",
            "description",
            "approval_status",
            "registration_status",
            "registration_error",
            "artifact",
            "signature",
            "metrics",
            "computed_metrics",
            "metric_mismatches",
            "hyperparameters",
            "customer_metadata",
            "tags",
            "lineage",
            "sample_payload",
            "input_schema",
            "output_schema",
            "model_card",
            "aliases",
            "created_by",
            "created_at",
            "updated_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(child=serializers.DictField(), read_only=True)
    )
    def get_metric_mismatches(self, version: ModelVersion) -> list[dict[str, Any]]:
        return evaluation.mismatches(version)

    def get_aliases(self, version: ModelVersion) -> list[str]:
        return sorted(alias.name for alias in version.aliases.all())

    def get_url(self, version: ModelVersion) -> str:
        return f"{API}/model-groups/{version.group.name}/versions/{version.version}/"

    def to_representation(self, version: ModelVersion) -> dict[str, Any]:
        """The fields above, built directly: the hottest representation of the API
        (lists of 50, single gets), where building DRF fields cost as much as the
        query. The declared fields still describe it in the OpenAPI schema."""
        group = version.group.name
        base = f"{API}/model-groups/{group}/versions/{version.version}"
        return {
            "group": group,
            "version": version.version,
            "description": version.description,
            "approval_status": version.approval_status,
            "registration_status": version.registration_status,
            "registration_error": version.registration_error,
            "artifact": {
                "filename": version.artifact_filename,
                "format": version.artifact_format,
                "size": version.artifact_size,
                "sha256": version.artifact_sha256,
                "download_url": f"{base}/artifact",
                **folder_fields(version, base),
            },
            "signature": signature_of(version),
            "metrics": version.metrics,
            "computed_metrics": version.computed_metrics,
            "metric_mismatches": evaluation.mismatches(version),
            "hyperparameters": version.hyperparameters,
            "customer_metadata": version.customer_metadata,
            "tags": version.tags,
            "lineage": version.lineage,
            "sample_payload": version.sample_payload,
            "input_schema": version.input_schema,
            "output_schema": version.output_schema,
            "model_card": version.model_card,
            "aliases": self.get_aliases(version),
            "created_by": version.created_by.username,
            "created_at": iso(version.created_at),
            "updated_at": iso(version.updated_at),
            "url": f"{base}/",
        }


def iso(moment: Any) -> str | None:
    """A datetime as DRF writes it (ISO 8601 in UTC, with Z)."""
    if moment is None:
        return None
    text = timezone.localtime(moment, UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class _VersionMetadata(serializers.Serializer):
    description = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False
    )
    model_card = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False
    )
    metrics = JSONStringField(required=False)
    hyperparameters = JSONStringField(required=False)
    customer_metadata = JSONStringField(required=False)
    tags = JSONStringField(required=False)
    lineage = JSONStringField(required=False)
    sample_payload = JSONStringField(required=False, expect=None, allow_null=True)
    input_schema = JSONStringField(required=False, allow_null=True)
    output_schema = JSONStringField(required=False, allow_null=True)


class VersionRegisterSerializer(_VersionMetadata):
    artifact = serializers.FileField(
        required=False,
        allow_empty_file=True,
        use_url=False,
        help_text="The model file. A folder (an MLflow model) is sent instead as one "
        "part per file, named file:<path> (file:MLmodel, file:model.onnx, ...).",
    )
    sha256 = serializers.CharField(required=False, allow_blank=True)
    model_signature = serializers.FileField(
        required=False,
        use_url=False,
        help_text="An OpenSSF model-signing signature bundle of the artifact, "
        "checked against the group's trusted keys.",
    )


class VersionUpdateSerializer(_VersionMetadata):
    pass


class ArtifactAttachSerializer(serializers.Serializer):
    """The model file of a version recorded without one."""

    artifact = serializers.FileField(allow_empty_file=True, use_url=False)
    sha256 = serializers.CharField(required=False, allow_blank=True)


class AliasSerializer(serializers.ModelSerializer):
    alias = serializers.CharField(source="name", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)
    updated_by = serializers.CharField(source="updated_by.username", read_only=True)

    class Meta:
        model = Alias
        fields = ["alias", "version", "updated_by", "updated_at"]
        read_only_fields = fields


class AliasSetSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class EventSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group_name", read_only=True)
    version = serializers.IntegerField(source="version_number", read_only=True)
    actor = serializers.CharField(source="actor_name", read_only=True)
    cursor = serializers.SerializerMethodField()

    def get_cursor(self, event: Event) -> str:
        return f"{event.txid}-{event.id}"

    class Meta:
        model = Event
        fields = [
            "id",
            "cursor",
            "kind",
            "group",
            "version",
            "actor",
            "payload",
            "created_at",
        ]
        read_only_fields = fields


class SigningKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = SigningKey
        fields = ["keyid", "algorithm", "public_key_pem", "active"]


class DsseSignatureSerializer(serializers.Serializer):
    keyid = serializers.CharField()
    sig = serializers.CharField()


class AttestationSerializer(serializers.Serializer):
    """A DSSE envelope (for the schema: answers are the stored envelope as is)."""

    payloadType = serializers.CharField()
    payload = serializers.CharField(help_text="base64 of an in-toto Statement v1")
    signatures = DsseSignatureSerializer(many=True)
    revocation = serializers.DictField(
        required=False, help_text="the signed revocation, when the approval was revoked"
    )


class EvaluationSetSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = EvaluationSet
        fields = [
            "group",
            "version",
            "task",
            "label_column",
            "feature_columns",
            "metrics",
            "rows",
            "file_format",
            "filename",
            "sha256",
            "size",
            "description",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_field(
    serializers.ListField(child=serializers.CharField(), required=False)
)
class MetricNamesField(serializers.Field):
    """Metric names as a list, a JSON list in a form field, or comma-separated."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and data.lstrip().startswith("["):
            try:
                return jsonsafe.loads(data)
            except jsonsafe.JSONInputError as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class EvaluationSetCreateSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    label_column = serializers.CharField(max_length=255, trim_whitespace=False)
    task = serializers.ChoiceField(choices=EvaluationTask.choices)
    metrics = MetricNamesField(
        required=False,
        help_text="Metric names (a list, or comma-separated); default: the task's.",
    )
    description = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )


class EvaluationSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.version", read_only=True)
    evaluation_set = serializers.IntegerField(
        source="evaluation_set.version", read_only=True
    )
    sha256 = serializers.CharField(source="evaluation_set.sha256", read_only=True)

    class Meta:
        model = Evaluation
        fields = [
            "version",
            "evaluation_set",
            "sha256",
            "status",
            "metrics",
            "error",
            "attempts",
            "requested_at",
            "finished_at",
        ]
        read_only_fields = fields


class EvaluateSerializer(serializers.Serializer):
    evaluation_set = serializers.IntegerField(
        required=False, min_value=1, help_text="Its number; default: the latest."
    )
