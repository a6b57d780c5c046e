"""The whole SageMaker Model Registry flow with unmodified boto3 (issue 12): every
answer is parsed by botocore against its own service model."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from catalog.models import ModelVersion

pytestmark = pytest.mark.django_db(transaction=True)

ARN = "arn:aws:sagemaker:us-east-1:000000000000"
SPEC = {
    "Containers": [
        {
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2",
            "ModelDataUrl": "s3://training-bucket/churn/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


def code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def refused(call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return caught.value


@pytest.fixture
def alice(make_user):
    return make_user("contributor", "reviewer", username="alice")


@pytest.fixture
def bob(make_user):
    return make_user("reviewer", username="bob")


def test_create_group_three_versions_review_list_describe_tag_delete(
    sagemaker, alice, bob
):
    sm, reviewer = sagemaker(alice), sagemaker(bob)

    created = sm.create_model_package_group(
        ModelPackageGroupName="churn",
        ModelPackageGroupDescription="Churn models",
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    assert created["ModelPackageGroupArn"] == f"{ARN}:model-package-group/churn"
    before = datetime.now(UTC) - timedelta(seconds=5)
    arns = [
        sm.create_model_package(
            ModelPackageGroupName="churn",
            ModelPackageDescription=f"run {n}",
            InferenceSpecification=SPEC,
            ModelApprovalStatus="PendingManualApproval",
            MetadataProperties={
                "CommitId": f"abc{n}",
                "Repository": "git://x/y",
                "ProjectId": "churn-2026",
            },
            CustomerMetadataProperties={"run": str(n)},
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://training-bucket/churn/{n}/metrics.json",
                    }
                }
            },
            Domain="MACHINE_LEARNING",
            ManagedStorageType="Restricted",
            Task="CLASSIFICATION",
            SamplePayloadUrl="s3://training-bucket/churn/sample.csv",
            Tags=[{"Key": "stage", "Value": "ci"}],
        )["ModelPackageArn"]
        for n in (1, 2, 3)
    ]
    assert arns == [f"{ARN}:model-package/churn/{n}" for n in (1, 2, 3)]

    reviewer.update_model_package(
        ModelPackageArn=arns[0],
        ModelApprovalStatus="Approved",
        ApprovalDescription="good",
    )
    reviewer.update_model_package(
        ModelPackageArn=arns[1],
        ModelApprovalStatus="Rejected",
        ApprovalDescription="overfits",
    )

    described = sm.describe_model_package(ModelPackageName=arns[0])
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "good"
    assert described["ModelPackageVersion"] == 1
    assert described["ModelPackageGroupName"] == "churn"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["InferenceSpecification"] == SPEC
    assert described["MetadataProperties"] == {
        "CommitId": "abc1",
        "Repository": "git://x/y",
        "ProjectId": "churn-2026",
    }
    # The catalog holds them as lineage (filterable, shown on the version page).
    assert ModelVersion.objects.get(group__name="churn", version=1).lineage == {
        "commit": "abc1",
        "code_repository": "git://x/y",
        "project": "churn-2026",
        "task": "CLASSIFICATION",
    }
    assert described["CustomerMetadataProperties"] == {"run": "1"}
    assert described["Domain"] == "MACHINE_LEARNING"
    assert described["ManagedStorageType"] == "Restricted"
    assert described["Task"] == "CLASSIFICATION"
    assert described["SamplePayloadUrl"] == "s3://training-bucket/churn/sample.csv"
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "1/metrics.json"
    )
    assert described["CreatedBy"]["UserProfileName"] == "alice"
    assert isinstance(described["CreationTime"], datetime)
    by_name = sm.describe_model_package(ModelPackageName="churn/2")
    assert by_name["ModelApprovalStatus"] == "Rejected"
    assert by_name["ApprovalDescription"] == "overfits"

    def versions(**filters):
        found = sm.list_model_packages(ModelPackageGroupName="churn", **filters)
        return [s["ModelPackageVersion"] for s in found["ModelPackageSummaryList"]]

    assert versions() == [1, 2, 3]
    assert versions(SortOrder="Descending") == [3, 2, 1]
    assert versions(SortBy="Name", SortOrder="Descending") == [3, 2, 1]
    assert versions(ModelApprovalStatus="Approved") == [1]
    assert versions(ModelApprovalStatus="PendingManualApproval") == [3]
    assert versions(CreationTimeAfter=before) == [1, 2, 3]
    assert versions(CreationTimeBefore=before) == []
    assert versions(NameContains="chu") == [1, 2, 3]
    assert versions(NameContains="nope") == []
    first = sm.list_model_packages(
        ModelPackageGroupName=f"{ARN}:model-package-group/churn", MaxResults=2
    )
    assert [s["ModelPackageVersion"] for s in first["ModelPackageSummaryList"]] == [
        1,
        2,
    ]
    rest = sm.list_model_packages(
        ModelPackageGroupName="churn", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [s["ModelPackageVersion"] for s in rest["ModelPackageSummaryList"]] == [3]
    assert "NextToken" not in rest
    paged = sm.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName="churn", PaginationConfig={"PageSize": 1}
    )
    assert [
        s["ModelPackageVersion"] for p in paged for s in p["ModelPackageSummaryList"]
    ] == [1, 2, 3]
    assert sm.list_model_packages()["ModelPackageSummaryList"] == []  # Unversioned
    everywhere = sm.list_model_packages(ModelPackageType="Both")
    assert len(everywhere["ModelPackageSummaryList"]) == 3

    group = sm.describe_model_package_group(
        ModelPackageGroupName=f"{ARN}:model-package-group/churn"
    )
    assert group["ModelPackageGroupDescription"] == "Churn models"
    assert group["ModelPackageGroupStatus"] == "Completed"
    groups = sm.list_model_package_groups(NameContains="hur")[
        "ModelPackageGroupSummaryList"
    ]
    assert [g["ModelPackageGroupName"] for g in groups] == ["churn"]

    missing = f"{ARN}:model-package/churn/9"
    batch = sm.batch_describe_model_package(
        ModelPackageArnList=[arns[0], arns[2], missing]
    )
    assert set(batch["ModelPackageSummaries"]) == {arns[0], arns[2]}
    assert batch["ModelPackageSummaries"][arns[0]]["InferenceSpecification"] == SPEC
    assert (
        batch["BatchDescribeModelPackageErrorMap"][missing]["ErrorCode"]
        == "ResourceNotFound"
    )

    sm.add_tags(ResourceArn=arns[2], Tags=[{"Key": "owner", "Value": "alice"}])
    tags = sm.list_tags(ResourceArn=arns[2])["Tags"]
    assert tags == [{"Key": "owner", "Value": "alice"}, {"Key": "stage", "Value": "ci"}]
    sm.delete_tags(ResourceArn=arns[2], TagKeys=["stage"])
    assert sm.list_tags(ResourceArn=arns[2])["Tags"] == [
        {"Key": "owner", "Value": "alice"}
    ]
    group_arn = f"{ARN}:model-package-group/churn"
    assert sm.list_tags(ResourceArn=group_arn)["Tags"] == [
        {"Key": "team", "Value": "ml"}
    ]

    sm.delete_model_package(ModelPackageName=arns[2])
    assert (
        code(refused(sm.describe_model_package, ModelPackageName=arns[2]))
        == "ResourceNotFound"
    )
    assert (
        code(refused(sm.delete_model_package, ModelPackageName=arns[0]))
        == "ConflictException"
    )
    assert (
        code(refused(sm.delete_model_package_group, ModelPackageGroupName="churn"))
        == "ConflictException"
    )


def test_update_changes_only_the_fields_sent_and_merges_customer_metadata(
    sagemaker, alice
):
    sm = sagemaker(alice)
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = sm.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification=SPEC,
        CustomerMetadataProperties={"a": "1", "b": "2"},
        SourceUri="s3://training-bucket/churn/model.tar.gz",
    )["ModelPackageArn"]

    sm.update_model_package(
        ModelPackageArn=arn,
        CustomerMetadataProperties={"c": "3"},
        CustomerMetadataPropertiesToRemove=["a"],
        ModelLifeCycle={"Stage": "Staging", "StageStatus": "Active"},
    )

    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {"b": "2", "c": "3"}
    assert described["ModelLifeCycle"] == {"Stage": "Staging", "StageStatus": "Active"}
    assert described["InferenceSpecification"] == SPEC
    assert described["SourceUri"] == "s3://training-bucket/churn/model.tar.gz"


def test_a_version_recorded_from_a_model_data_url_has_no_bytes(sagemaker, alice):
    sm = sagemaker(alice)
    sm.create_model_package_group(ModelPackageGroupName="churn")

    sm.create_model_package(ModelPackageGroupName="churn", InferenceSpecification=SPEC)

    version = ModelVersion.objects.get(group__name="churn", version=1)
    assert version.artifact_absent and version.artifact_key == ""


def test_unsupported_and_unknown_operations_are_named(sagemaker, alice):
    sm = sagemaker(alice)

    unsupported = refused(sm.list_training_jobs)
    assert code(unsupported) == "UnsupportedOperation"
    assert "ListTrainingJobs" in unsupported.response["Error"]["Message"]


def test_model_package_groups_list_with_every_filter_sort_and_page(sagemaker, alice):
    sm = sagemaker(alice)
    names = ["beta", "alpha", "gamma"]  # created in this order, a second apart
    stamps = []
    for name in names:
        if stamps:
            time.sleep(1.0)
        sm.create_model_package_group(ModelPackageGroupName=name)
        described = sm.describe_model_package_group(ModelPackageGroupName=name)
        stamps.append(described["CreationTime"])

    def listed(**params):
        found = sm.list_model_package_groups(**params)["ModelPackageGroupSummaryList"]
        return [g["ModelPackageGroupName"] for g in found]

    assert listed(SortBy="Name", SortOrder="Ascending") == ["alpha", "beta", "gamma"]
    assert listed(SortBy="Name", SortOrder="Descending") == ["gamma", "beta", "alpha"]
    assert listed(SortBy="CreationTime", SortOrder="Ascending") == names
    assert listed(SortOrder="Descending") == names[::-1]  # CreationTime by default
    assert listed(NameContains="AMM") == ["gamma"]
    half = timedelta(seconds=0.5)
    assert listed(CreationTimeAfter=stamps[0] + half, SortOrder="Ascending") == [
        "alpha",
        "gamma",
    ]
    assert listed(CreationTimeBefore=stamps[2] - half, SortOrder="Ascending") == [
        "beta",
        "alpha",
    ]

    pages, token = [], None
    while True:
        params = {"SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 1}
        answer = sm.list_model_package_groups(
            **params, **({"NextToken": token} if token else {})
        )
        pages.append(
            [g["ModelPackageGroupName"] for g in answer["ModelPackageGroupSummaryList"]]
        )
        token = answer.get("NextToken")
        if not token:
            break
    assert pages == [["alpha"], ["beta"], ["gamma"]]

    # Packages of every group sorted by name: their group's, then their number.
    for name in ("beta", "alpha", "beta"):
        sm.create_model_package(ModelPackageGroupName=name, InferenceSpecification=SPEC)
    everywhere = sm.list_model_packages(
        ModelPackageType="Versioned", SortBy="Name", SortOrder="Ascending"
    )["ModelPackageSummaryList"]
    assert [
        (p["ModelPackageGroupName"], p["ModelPackageVersion"]) for p in everywhere
    ] == [("alpha", 1), ("beta", 1), ("beta", 2)]
