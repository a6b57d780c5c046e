"""Between SageMaker's model package fields and the catalog's version fields.

What the catalog has a field for goes there (so filters, policies and gates see it);
the rest is kept as sent in the face's ``PackageDocument``.
"""

from __future__ import annotations

from typing import Any

# MetadataProperties member -> lineage key of the catalog.
LINEAGE = {
    "CommitId": "commit",
    "Repository": "code_repository",
    "GeneratedBy": "pipeline_run",
    "ProjectId": "project",
}
# Kept as sent: the catalog has no field for these.
KEPT = (
    "InferenceSpecification",
    "ValidationSpecification",
    "SourceAlgorithmSpecification",
    "CertifyForMarketplace",
    "ModelMetrics",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "DriftCheckBaselines",
    "AdditionalInferenceSpecifications",
    "SkipModelValidation",
    "SourceUri",
    "SecurityConfig",
    "ModelLifeCycle",
    "ModelPackageRegistrationType",
    "ManagedStorageType",
)


# What of the kept fields reviewers judge (the model and where it comes from): frozen
# once a version has been reviewed, like the catalog's metrics and lineage.
JUDGED = frozenset(
    {"InferenceSpecification", "SourceUri", "AdditionalInferenceSpecifications"}
)


def catalog_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The catalog's version fields for the SageMaker fields in ``params``."""
    fields: dict[str, Any] = {}
    if "ModelPackageDescription" in params:
        fields["description"] = params["ModelPackageDescription"]
    if "CustomerMetadataProperties" in params:
        fields["customer_metadata"] = params["CustomerMetadataProperties"]
    metadata = params.get("MetadataProperties") or {}
    lineage = {LINEAGE[k]: v for k, v in metadata.items() if k in LINEAGE and v}
    if isinstance(params.get("Task"), str) and params["Task"]:
        lineage["task"] = params["Task"]
    if lineage:
        fields["lineage"] = lineage
    card = params.get("ModelCard") or {}
    if "ModelCardContent" in card:
        fields["model_card"] = card["ModelCardContent"]
    return fields


def kept_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The fields the face keeps as sent (with what of MetadataProperties and ModelCard
    the catalog does not hold)."""
    document = {name: params[name] for name in KEPT if name in params}
    card = params.get("ModelCard") or {}
    if "ModelCardStatus" in card:
        document["ModelCardStatus"] = card["ModelCardStatus"]
    return document


def metadata_properties(lineage: dict[str, str], document: dict[str, Any]) -> Any:
    back = {member: lineage[key] for member, key in LINEAGE.items() if key in lineage}
    if "ProjectId" in document:  # kept there before the catalog had ``project``
        back.setdefault("ProjectId", document["ProjectId"])
    return back or None


def model_card(content: str, document: dict[str, Any]) -> Any:
    card: dict[str, Any] = {}
    if content:
        card["ModelCardContent"] = content
    if "ModelCardStatus" in document:
        card["ModelCardStatus"] = document["ModelCardStatus"]
    return card or None


def model_data_url(params: dict[str, Any]) -> str | None:
    """The first container's ``ModelDataUrl``: where the client keeps the model."""
    spec = params.get("InferenceSpecification") or {}
    for container in spec.get("Containers") or []:
        if container.get("ModelDataUrl"):
            return str(container["ModelDataUrl"])
    return None


def metrics_report_url(params: dict[str, Any]) -> str | None:
    """Where ``ModelMetrics.ModelQuality.Statistics`` says the model-quality report is."""
    metrics = params.get("ModelMetrics") or {}
    statistics = (metrics.get("ModelQuality") or {}).get("Statistics") or {}
    url = statistics.get("S3Uri")
    return str(url) if url else None
