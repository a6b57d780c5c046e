"""Issue 10, defect 6: a payload describes its event as things stood then."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.base import ContentFile

from approvals.services import review_submit
from catalog import outbox, services
from catalog.models import Event, ModelVersion
from tests import models as real_models
from webhooks import services as hooks
from webhooks.models import Delivery

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def sagemaker_hook(deployer: Any, receiver: Any) -> Any:
    return hooks.subscription_create(
        actor=deployer,
        url=receiver.url,
        events=["*"],
        secret=SECRET,
        payload_format="sagemaker",
    )


@pytest.fixture
def version(contributor: Any) -> ModelVersion:
    group = services.group_create(actor=contributor, name="iris")
    return services.version_register(
        actor=contributor,
        group=group,
        artifact=ContentFile(real_models.iris_onnx(), name="m.onnx"),
        description="first cut",
    )


def _event(kind: str, version: ModelVersion) -> Event:
    return Event.objects.filter(kind=kind, version_id=version.pk).latest("id")


def _sent_detail(event: Event, receiver: Any) -> dict[str, Any]:
    """Dispatch ``event`` as the outbox would, deliver it, return what arrived."""
    outbox.dispatch(event.pk)
    delivery = Delivery.objects.get(event_id=event.pk)
    assert hooks.delivery_attempt(delivery.pk) == "succeeded"
    return json.loads(receiver.requests[-1].body)["detail"]


def test_a_registration_delivered_after_approval_says_pending(
    sagemaker_hook, version, reviewer, receiver
):
    review_submit(actor=reviewer, version=version, decision="approve", comment="ok")

    detail = _sent_detail(_event("version.registered", version), receiver)

    assert detail["ModelApprovalStatus"] == "PendingManualApproval"
    assert detail["LastModifiedBy"] == {"UserProfileName": version.created_by.username}


def test_an_approval_delivered_after_a_revocation_says_approved(
    sagemaker_hook, version, reviewer, receiver
):
    review_submit(actor=reviewer, version=version, decision="approve", comment="ok")
    review_submit(actor=reviewer, version=version, decision="reject", comment="bad")

    approved = _sent_detail(_event("version.approved", version), receiver)
    rejected = _sent_detail(_event("version.rejected", version), receiver)

    assert approved["ModelApprovalStatus"] == "Approved"
    assert approved["ApprovalDescription"] == "ok"
    assert rejected["ModelApprovalStatus"] == "Rejected"


def test_an_update_says_the_status_of_its_time(
    sagemaker_hook, version, contributor, reviewer, receiver
):
    services.version_update(actor=contributor, version=version, description="v2")
    review_submit(actor=reviewer, version=version, decision="approve", comment="ok")

    detail = _sent_detail(_event("version.updated", version), receiver)

    assert detail["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_description_changed_since_the_event_is_reported_as_it_was_then(
    sagemaker_hook, version, contributor, receiver
):
    services.version_update(actor=contributor, version=version, description="v2")

    registered = _sent_detail(_event("version.registered", version), receiver)
    updated = _sent_detail(_event("version.updated", version), receiver)

    # Each event records the description of its time.
    assert registered["ModelPackageDescription"] == "first cut"
    assert updated["ModelPackageDescription"] == "v2"
    assert registered["CreationTime"] == updated["CreationTime"]
