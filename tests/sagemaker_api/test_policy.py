"""Approval through boto3 goes through the approvals service as the caller: roles,
the group's policy, quorum, gates and self-approval all apply (issue 12)."""

from __future__ import annotations

import pytest

from approvals.services import policy_update
from catalog.models import Event, ModelVersion
from catalog.selectors import group_get
from tests.sagemaker_api.test_flow import SPEC, code, refused

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(make_user):
    return make_user("contributor", "reviewer", username="alice")


@pytest.fixture
def sm(sagemaker, alice):
    client = sagemaker(alice)
    client.create_model_package_group(ModelPackageGroupName="churn")
    return client


def _policy(admin_user, **fields):
    policy_update(actor=admin_user, group=group_get("churn"), **fields)


def _create(sm, **fields):
    return sm.create_model_package(
        ModelPackageGroupName="churn", InferenceSpecification=SPEC, **fields
    )["ModelPackageArn"]


def test_approving_ones_own_version_is_refused_by_the_policy(sm):
    arn = _create(sm)

    error = refused(
        sm.update_model_package, ModelPackageArn=arn, ModelApprovalStatus="Approved"
    )

    assert code(error) == "AccessDeniedException"
    assert "approval policy" in error.response["Error"]["Message"]
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
        "PendingManualApproval"
    )


def test_with_a_quorum_of_two_the_first_approval_leaves_it_pending(
    sm, sagemaker, make_user, admin_user
):
    _policy(admin_user, required_approvals=2)
    arn = _create(sm)
    first, second = sagemaker(make_user("reviewer")), sagemaker(make_user("reviewer"))

    first.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    pending = sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
    second.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    assert pending == "PendingManualApproval"
    assert (
        sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        == "Approved"
    )


def test_create_as_approved_applies_the_callers_approval_when_the_policy_allows(
    sm, admin_user
):
    _policy(admin_user, allow_self_approval=True)

    arn = _create(sm, ModelApprovalStatus="Approved")

    assert (
        sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        == "Approved"
    )
    version = ModelVersion.objects.get(group__name="churn", version=1)
    assert version.reviews.filter(decision="approve").count() == 1


def test_create_as_approved_is_refused_whole_when_the_policy_does_not_allow(
    sm, admin_user
):
    _policy(admin_user, allow_self_approval=True, required_approvals=2)

    error = refused(_create, sm, ModelApprovalStatus="Approved")

    assert code(error) == "ConflictException"
    assert "approval policy" in error.response["Error"]["Message"]
    assert not ModelVersion.objects.exists()
    assert _create(sm).endswith("/churn/1")  # the number was not spent


def test_create_as_approved_without_self_approval_is_refused_whole(sm):
    error = refused(_create, sm, ModelApprovalStatus="Approved")

    assert code(error) == "AccessDeniedException"
    assert not ModelVersion.objects.exists()


def test_a_viewers_key_cannot_create(sagemaker, viewer, sm):
    reader = sagemaker(viewer)

    error = refused(reader.create_model_package_group, ModelPackageGroupName="other")
    denied = refused(reader.create_model_package, ModelPackageGroupName="churn")

    assert code(error) == code(denied) == "AccessDeniedException"
    assert reader.list_model_package_groups()["ModelPackageGroupSummaryList"]


def test_a_key_without_the_write_scope_cannot_create(sagemaker, alice, sm):
    reader = sagemaker(alice, scopes=["read"])

    assert code(refused(_create, reader)) == "AccessDeniedException"


def test_gates_refuse_with_their_names(sm, sagemaker, make_user, admin_user):
    _policy(admin_user, metric_gates=[{"metric": "auc", "op": ">=", "value": 0.8}])
    arn = _create(sm)

    error = refused(
        sagemaker(make_user("reviewer")).update_model_package,
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
    )

    assert code(error) == "ValidationException"
    assert "auc" in error.response["Error"]["Message"]


def test_approved_cannot_go_back_to_pending_and_says_how(sm, sagemaker, make_user):
    arn = _create(sm)
    reviewer = sagemaker(make_user("reviewer"))
    reviewer.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    error = refused(
        reviewer.update_model_package,
        ModelPackageArn=arn,
        ModelApprovalStatus="PendingManualApproval",
    )

    assert code(error) == "ConflictException"
    assert "reject it first" in error.response["Error"]["Message"]


def test_rejected_then_resubmitted_is_pending_again(sm, sagemaker, make_user):
    arn = _create(sm)
    reviewer = sagemaker(make_user("reviewer"))
    reviewer.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="no"
    )

    sm.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="PendingManualApproval",
        ApprovalDescription="retrained",
    )

    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
        "PendingManualApproval"
    )


def test_rejecting_needs_a_reason(sm, sagemaker, make_user):
    arn = _create(sm)

    error = refused(
        sagemaker(make_user("reviewer")).update_model_package,
        ModelPackageArn=arn,
        ModelApprovalStatus="Rejected",
    )

    assert code(error) == "ValidationException"
    assert "ApprovalDescription" in error.response["Error"]["Message"]


# --- the fields the face keeps beyond the catalog's columns --------------------------

OTHER_SPEC = {
    **SPEC,
    "Containers": [{**SPEC["Containers"][0], "Image": "elsewhere/serving:9"}],
}


def _events(kind: str = "version.updated") -> list[Event]:
    return list(Event.objects.filter(kind=kind).order_by("id"))


@pytest.mark.parametrize(
    "change",
    [
        {"InferenceSpecification": OTHER_SPEC},
        {"SourceUri": "s3://elsewhere/model.tar.gz"},
        {"ModelLifeCycle": {"Stage": "Production", "StageStatus": "Approved"}},
        {"AdditionalInferenceSpecificationsToAdd": [{"Name": "neo", **OTHER_SPEC}]},
    ],
)
def test_a_viewer_cannot_change_what_a_package_holds(sm, sagemaker, make_user, change):
    arn = _create(sm)
    before = sm.describe_model_package(ModelPackageName=arn)
    events = len(_events())

    error = refused(
        sagemaker(make_user("viewer")).update_model_package,
        ModelPackageArn=arn,
        **change,
    )

    assert code(error) == "AccessDeniedException"
    after = sm.describe_model_package(ModelPackageName=arn)
    for field in ("InferenceSpecification", "SourceUri", "ModelLifeCycle"):
        assert after.get(field) == before.get(field)
    assert "AdditionalInferenceSpecifications" not in after
    assert len(_events()) == events


def test_the_model_a_package_names_is_frozen_once_reviewed(sm, sagemaker, make_user):
    arn = _create(sm)
    sm.update_model_package(ModelPackageArn=arn, InferenceSpecification=OTHER_SPEC)
    changed = _events()[-1]
    assert changed.payload["fields"] == ["InferenceSpecification"]
    image = sm.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]
    assert image["Containers"][0]["Image"] == "elsewhere/serving:9"
    sagemaker(make_user("reviewer")).update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved"
    )

    for change in (
        {"InferenceSpecification": SPEC},
        {"SourceUri": "s3://elsewhere/model.tar.gz"},
        {"AdditionalInferenceSpecificationsToAdd": [{"Name": "neo", **SPEC}]},
    ):
        error = refused(sm.update_model_package, ModelPackageArn=arn, **change)
        assert code(error) == "ConflictException"
        assert "Frozen once a version has been reviewed" in str(error)
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["InferenceSpecification"] == image
    assert "SourceUri" not in described

    # Where the version is in its life is not what the reviewers judged.
    sm.update_model_package(
        ModelPackageArn=arn,
        ModelLifeCycle={"Stage": "Production", "StageStatus": "InService"},
    )
    assert _events()[-1].payload["fields"] == ["ModelLifeCycle"]
    assert sm.describe_model_package(ModelPackageName=arn)["ModelLifeCycle"] == {
        "Stage": "Production",
        "StageStatus": "InService",
    }
