"""Issue 15: a deployment loads only bytes that a signed, unrevoked approval names;
a missing or tampered attestation fails it and the live version keeps serving."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import models

from catalog import outbox
from catalog.models import Attestation, ModelVersion
from deployments import services as deploy
from deployments import serving
from deployments.models import Deployment
from tests.helpers import SAMPLE
from tests.receiver import Receiver


def by_hand(version: ModelVersion) -> models.QuerySet:
    """The version's attestation rows, past the append-only guard (as someone with
    write access to the database would change them)."""
    return models.QuerySet(Attestation).filter(version=version)


def run_deployment(event_id: int, version: ModelVersion) -> Deployment:
    outbox.dispatch(event_id)
    deployment = Deployment.objects.filter(version=version).latest("id")
    deploy.deployment_run(deployment.pk)
    deployment.refresh_from_db()
    return deployment


def tampered(envelope: dict) -> dict:
    body = json.loads(base64.b64decode(envelope["payload"]))
    body["predicate"]["approvals"][0]["reviewer"] = "mallory"
    return {**envelope, "payload": base64.b64encode(json.dumps(body).encode()).decode()}


def test_a_deployment_verifies_the_attestation_first(
    endpoint, register_version, approve_and_deploy
):
    deployment = approve_and_deploy(register_version())

    assert deployment.status == "Succeeded", deployment.error
    assert any("attestation verified" in line for line in deployment.log)


def test_a_missing_attestation_fails_and_the_live_version_keeps_serving(
    endpoint, register_version, approve_and_deploy, approve
):
    first = register_version()
    approve_and_deploy(first)
    second = register_version()
    event = approve(second)
    by_hand(second).delete()

    deployment = run_deployment(event.pk, second)

    assert deployment.status == "Failed"
    assert "no approval attestation" in deployment.error
    endpoint.refresh_from_db()
    assert endpoint.live_version == first
    live, _ = serving.predict("iris-prod", SAMPLE)
    assert live.version_number == first.version


def test_a_tampered_attestation_fails_the_deployment(
    endpoint, register_version, approve_and_deploy, approve
):
    first = register_version()
    approve_and_deploy(first)
    second = register_version()
    event = approve(second)
    row = by_hand(second).get()
    by_hand(second).update(envelope=tampered(row.envelope))

    deployment = run_deployment(event.pk, second)

    assert deployment.status == "Failed"
    assert "attestation is invalid" in deployment.error
    endpoint.refresh_from_db()
    assert endpoint.live_version == first


def test_an_attestation_of_other_bytes_fails_the_deployment(
    endpoint, register_version, approve_and_deploy, approve
):
    """A valid signature from another version cannot stand in for this one's."""
    first = register_version()
    approve_and_deploy(first)
    second = register_version(metrics={"accuracy": 0.5})
    event = approve(second)
    ModelVersion.objects.filter(pk=second.pk).update(artifact_sha256="0" * 64)

    deployment = run_deployment(event.pk, second)

    assert deployment.status == "Failed"
    assert "attestation" in deployment.error
    endpoint.refresh_from_db()
    assert endpoint.live_version == first


def test_serving_refuses_to_load_a_version_whose_attestation_was_tampered(
    endpoint, register_version, approve_and_deploy
):
    version = register_version()
    approve_and_deploy(version)
    row = by_hand(version).get()
    by_hand(version).update(envelope=tampered(row.envelope))
    serving.forget()

    with pytest.raises(serving.NotServing, match="attestation is invalid"):
        serving.predict("iris-prod", SAMPLE)


def test_the_webhook_target_receives_the_signed_attestation(
    register_version, approve, deployer, iris_group
):
    receiver = Receiver().start()
    try:
        deploy.endpoint_create(
            actor=deployer,
            name="ci-hook",
            group=iris_group,
            target="webhook",
            webhook_url=receiver.url,
            webhook_secret="s" * 32,
            webhook_timeout=60,
        )
        version = register_version()
        deployment = run_deployment(approve(version).pk, version)
    finally:
        receiver.stop()

    assert deployment.status == "Running", deployment.error
    sent = json.loads(receiver.requests[0].body)
    assert sent["attestation"] == by_hand(version).get().envelope


def test_a_webhook_deployment_without_attestation_sends_nothing(
    register_version, approve, deployer, iris_group
):
    receiver = Receiver().start()
    try:
        deploy.endpoint_create(
            actor=deployer,
            name="ci-hook",
            group=iris_group,
            target="webhook",
            webhook_url=receiver.url,
            webhook_secret="s" * 32,
        )
        version = register_version()
        event = approve(version)
        by_hand(version).delete()
        deployment = run_deployment(event.pk, version)
    finally:
        receiver.stop()

    assert deployment.status == "Failed"
    assert receiver.requests == []
