"""The Django admin shows every model of the registry; logs and trails are view-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccessKey, IdempotencyKey, ServiceAccount
from accounts.services import token_issue
from approvals.models import ApprovalPolicy, MetricDirection, Notification, Review
from catalog.models import (
    Alias,
    Attestation,
    Evaluation,
    EvaluationSet,
    Event,
    HandledEvent,
    Metric,
    ModelGroup,
    ModelVersion,
    SigningKey,
    TrustedSigningKey,
)
from deployments.models import (
    ClusterLock,
    Deployment,
    DeploymentLogLine,
    Endpoint,
    LoadCheck,
    WorkerHeartbeat,
)
from webhooks.models import Attempt, Delivery, Subscription

pytestmark = pytest.mark.django_db
APPS = ("accounts", "catalog", "approvals", "deployments", "webhooks")
# Written by the services alone: the admin may look, never add, change or delete.
READ_ONLY = [
    Event,
    SigningKey,
    TrustedSigningKey,
    Attestation,
    HandledEvent,
    Metric,
    Review,
    Notification,
    Deployment,
    DeploymentLogLine,
    Delivery,
    Attempt,
    IdempotencyKey,
    ServiceAccount,
    ClusterLock,
]


@pytest.fixture
def superuser(make_user: Any) -> Any:
    return make_user("admin", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(superuser: Any) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def rows(make_user: Any, superuser: Any) -> None:
    """One row of every model, so that each list and page draws a real object."""
    owner = make_user("contributor", "deployer")
    group = ModelGroup.objects.create(name="iris", created_by=owner, next_version=2)
    version = ModelVersion.objects.create(
        group=group,
        version=1,
        registration_status="Ready",
        artifact_key="k/1",
        artifact_sha256="0" * 64,
        artifact_size=1,
        artifact_format="onnx",
        metrics={"accuracy": 0.9},
        created_by=owner,
    )
    Metric.objects.create(version=version, group=group, name="accuracy", value=0.9)
    evaluation_set = EvaluationSet.objects.create(
        group=group,
        version=1,
        task="classification",
        label_column="y",
        rows=1,
        file_format="csv",
        key="evaluation-sets/1/k",
        sha256="0" * 64,
        size=1,
        created_by=owner,
    )
    Evaluation.objects.create(version=version, evaluation_set=evaluation_set)
    Alias.objects.create(
        group=group, name="champion", version=version, updated_by=owner
    )
    event = Event.objects.create(kind="group.created", group=group, group_name="iris")
    HandledEvent.objects.create(consumer="deployments", event=event)
    SigningKey.objects.create(
        keyid="a" * 64, algorithm="ed25519", public_key_pem="-", active=True
    )
    TrustedSigningKey.objects.create(
        group=group, name="ci", public_key_pem="-", fingerprint="b" * 64, added_by=owner
    )
    Attestation.objects.create(
        version=version, kind="approval", event_id=event.pk, keyid="a" * 64, envelope={}
    )
    ApprovalPolicy.objects.create(group=group)
    MetricDirection.objects.create(group=group, metric="loss", higher_is_better=False)
    Review.objects.create(
        version=version, reviewer=superuser, reviewer_name="root", decision="approve"
    )
    Notification.objects.create(kind="review.requested", subject="s", body="b")
    endpoint = Endpoint.objects.create(name="iris-prod", group=group, created_by=owner)
    deployment = Deployment.objects.create(
        endpoint=endpoint, version=version, reason="manual"
    )
    DeploymentLogLine.objects.create(deployment=deployment, text="queued")
    WorkerHeartbeat.objects.create(lane="deployments", beat_at=timezone.now())
    LoadCheck.objects.create(version=version, fingerprint="c" * 64, report={})
    ClusterLock.objects.create(address="http://ray-head:8265")
    AccessKey.objects.create(
        user=owner, name="ci", access_key_id="MRAKTESTADMIN0000001", sealed_secret="x"
    )
    subscription = Subscription.objects.create(
        url="http://127.0.0.1:9/hook", secret="s", created_by=owner
    )
    delivery = Delivery.objects.create(
        subscription=subscription, kind="webhook.test", payload={}
    )
    Attempt.objects.create(delivery=delivery, number=1, status_code=500)
    token_issue(user=owner, name="ci")
    ServiceAccount.objects.create(user=make_user("viewer"), created_by=superuser)
    IdempotencyKey.objects.create(
        user=owner, key="k", fingerprint="f", path="/api/v1/x", status_code=201
    )


def registered() -> list[type]:
    return list(admin.site._registry)


def url(model: type, view: str, *args: Any) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def test_every_model_of_the_registry_is_in_the_admin():
    ours = {m for name in APPS for m in apps.get_app_config(name).get_models()}

    missing = sorted(m.__name__ for m in ours - set(registered()))
    assert not missing, f"not in the admin: {missing}"


@pytest.mark.parametrize("model", registered(), ids=lambda m: m._meta.label)
def test_each_list_and_page_opens_for_an_admin(staff, rows, model):
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"the rows fixture makes no {model.__name__}"

    listing = staff.get(url(model, "changelist"))
    page = staff.get(url(model, "change", row.pk))

    assert listing.status_code == 200
    assert page.status_code == 200


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m._meta.label)
def test_logs_refuse_add_change_and_delete(staff, rows, model):
    row = model._default_manager.order_by("pk").first()
    before = model._default_manager.count()

    add = staff.post(url(model, "add"), {})
    change = staff.post(url(model, "change", row.pk), {})
    delete = staff.post(url(model, "delete", row.pk), {"post": "yes"})
    bulk = staff.post(
        url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
    )

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert bulk.status_code in (200, 302)  # no delete action is offered
    assert model._default_manager.count() == before
    page = staff.get(url(model, "change", row.pk)).content
    assert b"deletelink" not in page
    assert b'name="_save"' not in page


def test_deleting_selected_endpoints_goes_through_the_service(staff, rows):
    endpoint = Endpoint.objects.get()

    staff.post(
        url(Endpoint, "changelist"),
        {"action": "delete_selected", "_selected_action": [endpoint.pk], "post": "yes"},
    )

    assert not Endpoint.objects.exists()
    assert Event.objects.filter(kind="endpoint.deleted").count() == 1
