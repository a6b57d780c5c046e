"""The SageMaker operations: each parses its input, calls the registry's services or
selectors as the caller, and shapes the answer. No rule of the registry lives here:
roles, policies, quorums, gates and frozen fields are the services' to enforce.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from accounts.roles import Actor, can_read
from approvals import selectors as approval_selectors
from approvals import services as approvals
from catalog import selectors
from catalog import services as catalog
from catalog.models import ApprovalStatus, ModelGroup, ModelVersion, RegistrationStatus
from common import sagemaker as arns
from common.errors import Forbidden
from sagemaker_api import documents
from sagemaker_api.endpoints import describe_endpoint, list_endpoints
from sagemaker_api.models import ClientToken, PackageDocument
from sagemaker_api.protocol import (
    AwsError,
    descending,
    epoch,
    moment,
    page,
    page_bounds,
    tag_dict,
    tag_list,
    validation,
)

Params = dict[str, Any]
P, A, R = ApprovalStatus.PENDING, ApprovalStatus.APPROVED, ApprovalStatus.REJECTED
PACKAGE_STATUS: dict[str, str] = {
    RegistrationStatus.PENDING: "InProgress",
    RegistrationStatus.READY: "Completed",
    RegistrationStatus.ABSENT: "Completed",
    RegistrationStatus.FAILED: "Failed",
}


def _read(actor: Actor) -> None:
    if not can_read(actor):
        raise Forbidden("You need a registry role (and a key with the read scope).")


def _group(value: str) -> ModelGroup:
    name = arns.group_name(value)
    if name is None:
        raise validation(
            f"{value!r} is not a model package group ARN of this registry."
        )
    return selectors.group_get(name)


def _ref(value: str) -> tuple[str, int]:
    ref = arns.package_ref(value)
    if ref is None:
        raise validation(
            f"{value!r} names no versioned model package here: use its ARN "
            "(…:model-package/<group>/<version>) or <group>/<version>."
        )
    return ref


def _version(value: str) -> ModelVersion:
    return selectors.version_get(*_ref(value), related=("sagemaker",))


def _document(version: ModelVersion) -> dict[str, Any]:
    try:
        return dict(version.sagemaker.document)  # type: ignore[attr-defined]
    except PackageDocument.DoesNotExist:
        return {}


def _user(user: Any) -> dict[str, str]:
    return {"UserProfileName": user.get_username()} if user is not None else {}


def _package_arn(version: ModelVersion) -> str:
    return arns.model_package_arn(version.group.name, version.version)


# --- Model package groups -------------------------------------------------------------


def _group_summary(group: ModelGroup) -> Params:
    return {
        "ModelPackageGroupName": group.name,
        "ModelPackageGroupArn": arns.model_package_group_arn(group.name),
        "ModelPackageGroupDescription": group.description,
        "CreationTime": epoch(group.created_at),
        "ModelPackageGroupStatus": "Completed",
    }


def create_model_package_group(actor: Actor, params: Params) -> Params:
    group = catalog.group_create(
        actor=actor,
        name=params["ModelPackageGroupName"],
        description=params.get("ModelPackageGroupDescription", ""),
        tags=tag_dict(params.get("Tags")),
    )
    return {"ModelPackageGroupArn": arns.model_package_group_arn(group.name)}


def describe_model_package_group(actor: Actor, params: Params) -> Params:
    _read(actor)
    group = _group(params["ModelPackageGroupName"])
    return {**_group_summary(group), "CreatedBy": _user(group.created_by)}


def list_model_package_groups(actor: Actor, params: Params) -> Params:
    _read(actor)
    offset, size = page_bounds(params)
    key = "name" if params.get("SortBy") == "Name" else "created_at"
    groups = selectors.group_list(
        name_contains=params.get("NameContains", ""),
        created_after=moment(params.get("CreationTimeAfter"), "CreationTimeAfter"),
        created_before=moment(params.get("CreationTimeBefore"), "CreationTimeBefore"),
        ordering=(f"-{key}" if descending(params) else key,),
    )
    rows, token = page(groups, offset, size)
    answer: Params = {"ModelPackageGroupSummaryList": [_group_summary(g) for g in rows]}
    if token:
        answer["NextToken"] = token
    return answer


def delete_model_package_group(actor: Actor, params: Params) -> Params:
    group = _group(params["ModelPackageGroupName"])
    catalog.group_delete(actor=actor, group=group)
    return {}


# --- Model packages (versions) ----------------------------------------------------------


def _fingerprint(params: Params) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _replayed(actor: Actor, token: str, fingerprint: str) -> Params | None:
    """The answer of an earlier create with this ClientToken, if there was one."""
    earlier = (
        ClientToken.objects.filter(user_id=actor.pk or 0, token=token)
        .select_related("version__group")
        .first()
    )
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        raise AwsError(
            "ConflictException",
            f"ClientToken {token!r} was already used with different parameters.",
        )
    return {"ModelPackageArn": _package_arn(earlier.version)}


def create_model_package(actor: Actor, params: Params) -> Params:
    if "ModelPackageGroupName" not in params:
        raise validation(
            "Only versioned model packages are supported here: send "
            "ModelPackageGroupName (ModelPackageName alone makes an unversioned one)."
        )
    group = _group(params["ModelPackageGroupName"])
    token, fingerprint = params.get("ClientToken"), _fingerprint(params)
    if token and (earlier := _replayed(actor, token, fingerprint)):
        return earlier
    try:
        version = _register(actor, group, params, token, fingerprint)
    except IntegrityError:
        # A concurrent create with the same ClientToken committed first.
        if token and (earlier := _replayed(actor, token, fingerprint)):
            return earlier
        raise
    return {"ModelPackageArn": _package_arn(version)}


@transaction.atomic
def _register(
    actor: Actor, group: ModelGroup, params: Params, token: str | None, print_: str
) -> ModelVersion:
    """The version, its SageMaker fields, its ClientToken and the status asked for:
    all of it, or (when the approval policy refuses that status) nothing."""
    version = catalog.version_register_for_import(
        actor=actor,
        group=group,
        source_url=documents.model_data_url(params),
        metrics_url=documents.metrics_report_url(params),
        tags=tag_dict(params.get("Tags")),
        **documents.catalog_fields(params),
    )
    PackageDocument.objects.create(
        version=version, document=documents.kept_fields(params)
    )
    if token:
        ClientToken.objects.create(
            user_id=actor.pk or 0, token=token, fingerprint=print_, version=version
        )
    wanted = params.get("ModelApprovalStatus", P)
    if wanted != P:
        reason = "Rejected when registered." if wanted == R else ""
        _set_status(actor, version, wanted, reason)
        if version.approval_status != wanted:
            raise AwsError(
                "ConflictException",
                f"Not registered: {group.name}'s approval policy does not make a "
                f"version {wanted} on this caller's review alone (it needs more "
                "reviewers' approvals). Register it as PendingManualApproval and "
                "have reviewers approve it.",
            )
    return version


def _set_status(actor: Actor, version: ModelVersion, wanted: str, comment: str) -> None:
    """Ask the approvals service, as the caller, for ``wanted``; the policy decides."""
    current = version.approval_status
    if wanted == current:
        return
    if wanted == A:
        outcome = approvals.review_submit(
            actor=actor, version=version, decision="approve", comment=comment
        )
    elif wanted == R:
        if not comment:
            raise validation("ApprovalDescription is required to reject: say why.")
        outcome = approvals.review_submit(
            actor=actor, version=version, decision="reject", comment=comment
        )
    elif current == A:
        raise AwsError(
            "ConflictException",
            "An Approved model package cannot go back to PendingManualApproval: "
            "reject it first (ModelApprovalStatus=Rejected with an "
            "ApprovalDescription), then set PendingManualApproval to resubmit it.",
        )
    else:
        if not comment:
            raise validation(
                "ApprovalDescription is required to resubmit: say what changed."
            )
        outcome = approvals.version_resubmit(
            actor=actor, version=version, comment=comment
        )
    version.approval_status = outcome.version.approval_status


def _status_details(version: ModelVersion) -> Params:
    """Why an import failed, from the event that recorded it."""
    statuses = []
    if version.registration_status == RegistrationStatus.FAILED:
        reasons = [
            event.payload["import_failed"]
            for event in selectors.version_edits(version)
            if "import_failed" in event.payload
        ]
        statuses.append(
            {
                "Name": "ModelDataUrl",
                "Status": "Failed",
                "FailureReason": (reasons[-1] if reasons else "Import failed.")[:1024],
            }
        )
    return {"ValidationStatuses": statuses, "ImageScanStatuses": []}


def _summary(version: ModelVersion) -> Params:
    """A package in a list. Like SageMaker's, it has no ``ModelPackageName``: a
    versioned package is named by its ARN (sagemaker-core describes each listed
    package by its name where one is given, and a group's name names no version)."""
    return {
        "ModelPackageGroupName": version.group.name,
        "ModelPackageVersion": version.version,
        "ModelPackageArn": _package_arn(version),
        "ModelPackageDescription": version.description,
        "CreationTime": epoch(version.created_at),
        "ModelPackageStatus": PACKAGE_STATUS.get(
            version.registration_status, "Completed"
        ),
        "ModelApprovalStatus": version.approval_status,
    }


def describe_model_package(actor: Actor, params: Params) -> Params:
    _read(actor)
    # One query: the package document joined, the last decision's comment as a
    # subquery, and no aliases (SageMaker has none).
    version = selectors.version_get(
        *_ref(params["ModelPackageName"]),
        related=("sagemaker",),
        aliases=False,
        annotations={"approval_comment": approval_selectors.last_decision_comment()},
    )
    document = _document(version)
    answer: Params = {
        # Described, a version in a group is named by its group, as on SageMaker.
        "ModelPackageName": version.group.name,
        **_summary(version),
        **{k: v for k, v in document.items() if k in documents.KEPT},
        "ModelPackageStatusDetails": _status_details(version),
        "CreatedBy": _user(version.created_by),
        "LastModifiedTime": epoch(version.updated_at),
        "CustomerMetadataProperties": version.customer_metadata,
        "MetadataProperties": documents.metadata_properties(version.lineage, document),
        "ModelCard": documents.model_card(version.model_card, document),
        "ApprovalDescription": (version.approval_comment or "")[:1024],  # type: ignore[attr-defined]
    }
    return {k: v for k, v in answer.items() if v not in (None, "", {})}


def list_model_packages(actor: Actor, params: Params) -> Params:
    _read(actor)
    offset, size = page_bounds(params)
    group = (
        _group(params["ModelPackageGroupName"])
        if "ModelPackageGroupName" in params
        else None
    )
    kind = params.get("ModelPackageType", "Versioned" if group else "Unversioned")
    if kind == "Unversioned":  # the registry holds versioned packages only
        return {"ModelPackageSummaryList": []}
    key = "version" if params.get("SortBy") == "Name" else "created_at"
    versions = selectors.version_list(
        group=group,
        approval_status=[params["ModelApprovalStatus"]]
        if "ModelApprovalStatus" in params
        else [],
        created_after=moment(params.get("CreationTimeAfter"), "CreationTimeAfter"),
        created_before=moment(params.get("CreationTimeBefore"), "CreationTimeBefore"),
        ordering=f"-{key}" if descending(params) else key,
        group_name_contains=params.get("NameContains", ""),
        brief=True,
    )
    if key == "version" and group is None:  # a package's name: its group, then n
        sign = "-" if descending(params) else ""
        versions = versions.order_by(f"{sign}group__name", f"{sign}version")
    rows, token = page(versions, offset, size)
    answer: Params = {"ModelPackageSummaryList": [_summary(v) for v in rows]}
    if token:
        answer["NextToken"] = token
    return answer


@transaction.atomic
def update_model_package(actor: Actor, params: Params) -> Params:
    """Each part through its own service as the caller: catalog fields, the fields
    this face keeps (``catalog.version_extra_update`` allows and records them), then
    the status; all in one transaction."""
    _read(actor)
    version = _version(params["ModelPackageArn"])
    fields = documents.catalog_fields(params)
    if (
        "CustomerMetadataProperties" in params
        or "CustomerMetadataPropertiesToRemove" in params
    ):
        merged = {
            **version.customer_metadata,
            **params.get("CustomerMetadataProperties", {}),
        }
        for key in params.get("CustomerMetadataPropertiesToRemove", []):
            merged.pop(key, None)
        fields["customer_metadata"] = merged
    if fields:
        version = catalog.version_update(actor=actor, version=version, **fields)
    kept = documents.kept_fields(params)
    added = params.get("AdditionalInferenceSpecificationsToAdd")
    if kept or added:
        changed = [*kept, *(["AdditionalInferenceSpecifications"] if added else [])]
        version = catalog.version_extra_update(
            actor=actor,
            version=version,
            fields=changed,
            frozen=[name for name in changed if name in documents.JUDGED],
        )
        document = _document(version)
        document.update(kept)
        if added:
            document["AdditionalInferenceSpecifications"] = [
                *document.get("AdditionalInferenceSpecifications", []),
                *added,
            ]
        PackageDocument.objects.update_or_create(
            version=version, defaults={"document": document}
        )
    if "ModelApprovalStatus" in params:
        _set_status(
            actor,
            version,
            params["ModelApprovalStatus"],
            params.get("ApprovalDescription", ""),
        )
    return {"ModelPackageArn": _package_arn(version)}


def delete_model_package(actor: Actor, params: Params) -> Params:
    version = _version(params["ModelPackageName"])
    catalog.version_delete(actor=actor, version=version)
    return {}


def batch_describe_model_package(actor: Actor, params: Params) -> Params:
    _read(actor)
    arn_list = params["ModelPackageArnList"]
    if not 1 <= len(arn_list) <= 100:
        raise validation("ModelPackageArnList must hold 1 to 100 ARNs.")
    refs = {arn: arns.package_ref(arn) for arn in arn_list}
    found = selectors.versions_get_many(
        [ref for ref in refs.values() if ref], related=("sagemaker",)
    )
    summaries: Params = {}
    errors: Params = {}
    for arn, ref in refs.items():
        version = found.get(ref) if ref else None
        if version is None:
            code = "ResourceNotFound" if ref else "ValidationException"
            errors[arn] = {
                "ErrorCode": code,
                "ErrorResponse": f"No model package {arn}.",
            }
            continue
        summary = _summary(version)
        summary["InferenceSpecification"] = _document(version).get(
            "InferenceSpecification", {"Containers": []}
        )
        summaries[arn] = summary
    return {
        "ModelPackageSummaries": summaries,
        "BatchDescribeModelPackageErrorMap": errors,
    }


# --- Tags -----------------------------------------------------------------------------


def _tagged(arn: str) -> ModelGroup | ModelVersion:
    found = arns.parse_arn(arn)
    if found is not None and found.type == "model-package-group":
        return selectors.group_get(found.name)
    if found is not None and found.type == "model-package":
        return selectors.version_get(*_ref(arn))
    raise validation(
        f"{arn!r}: tags are kept here for model package groups and model packages "
        "of this registry's account and region."
    )


@transaction.atomic
def add_tags(actor: Actor, params: Params) -> Params:
    target = _tagged(params["ResourceArn"])
    for tag in params["Tags"]:
        if isinstance(target, ModelGroup):
            catalog.group_tag_set(
                actor=actor, group=target, key=tag["Key"], value=tag["Value"]
            )
        else:
            catalog.version_tag_set(
                actor=actor, version=target, key=tag["Key"], value=tag["Value"]
            )
    return {"Tags": params["Tags"]}


def list_tags(actor: Actor, params: Params) -> Params:
    _read(actor)
    target = _tagged(params["ResourceArn"])
    size = params.get("MaxResults", 50)
    offset, _ = page_bounds({"NextToken": params.get("NextToken")})
    rows, token = page(tag_list(target.tags), offset, size)
    answer: Params = {"Tags": rows}
    if token:
        answer["NextToken"] = token
    return answer


@transaction.atomic
def delete_tags(actor: Actor, params: Params) -> Params:
    target = _tagged(params["ResourceArn"])
    for key in params["TagKeys"]:
        if isinstance(target, ModelGroup):
            catalog.group_tag_delete(actor=actor, group=target, key=key)
        else:
            catalog.version_tag_delete(actor=actor, version=target, key=key)
    return {}


OPERATIONS: dict[str, Callable[[Actor, Params], Params]] = {
    "CreateModelPackageGroup": create_model_package_group,
    "DescribeModelPackageGroup": describe_model_package_group,
    "ListModelPackageGroups": list_model_package_groups,
    "DeleteModelPackageGroup": delete_model_package_group,
    "CreateModelPackage": create_model_package,
    "DescribeModelPackage": describe_model_package,
    "ListModelPackages": list_model_packages,
    "UpdateModelPackage": update_model_package,
    "DeleteModelPackage": delete_model_package,
    "BatchDescribeModelPackage": batch_describe_model_package,
    "AddTags": add_tags,
    "ListTags": list_tags,
    "DeleteTags": delete_tags,
    "DescribeEndpoint": describe_endpoint,
    "ListEndpoints": list_endpoints,
}
