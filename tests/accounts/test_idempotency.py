"""Idempotency-Key on creating POSTs."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from catalog.models import ModelVersion
from tests.helpers import onnx_upload, register_payload


def _post(client, key, **fields):
    return client.post(
        "/api/v1/model-groups/iris/versions/",
        register_payload(**fields),
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_retried_registration_returns_the_first_result(api, group):
    first = _post(api, "build-42", description="same")
    again = _post(api, "build-42", description="same")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert ModelVersion.objects.count() == 1


def test_the_same_key_with_a_different_body_is_a_409(api, group):
    assert _post(api, "build-43", description="one").status_code == 201

    response = _post(api, "build-43", description="two")

    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["error"]["fields"]


def test_a_different_file_under_the_same_key_is_a_409(api, group):
    from tests import models as real_models

    assert _post(api, "build-44").status_code == 201

    response = _post(
        api, "build-44", artifact=onnx_upload("m.skops", real_models.iris_skops())
    )

    assert response.status_code == 409


def test_a_refused_request_is_replayed_as_refused(api, group):
    first = _post(api, "bad-1", artifact=onnx_upload(content=b"not a model"))
    again = _post(api, "bad-1", artifact=onnx_upload(content=b"not a model"))

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()


def test_keys_belong_to_their_user(api, group, client_for, make_user):
    other = client_for(make_user("contributor"))
    assert _post(api, "shared-key").status_code == 201

    assert _post(other, "shared-key").status_code == 201
    assert ModelVersion.objects.count() == 2


def test_groups_and_endpoints_are_idempotent_too(api, group):
    body = {"name": "fraud"}
    first = api.post(
        "/api/v1/model-groups/", body, format="json", HTTP_IDEMPOTENCY_KEY="g1"
    )
    again = api.post(
        "/api/v1/model-groups/", body, format="json", HTTP_IDEMPOTENCY_KEY="g1"
    )

    assert first.status_code == again.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_retries_create_one_version(contributor):
    setup = APIClient()
    setup.force_authenticate(contributor)
    assert (
        setup.post("/api/v1/model-groups/", {"name": "iris"}, format="json").status_code
        == 201
    )
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    bodies: list[dict] = []

    def retry() -> None:
        client = APIClient()
        client.force_authenticate(contributor)
        try:
            barrier.wait()
            response = _post(client, "pipeline-run-7", description="concurrent")
            statuses.append(response.status_code)
            bodies.append(response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retry) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert statuses == [201] * 20
    assert ModelVersion.objects.count() == 1
    assert {body["version"] for body in bodies} == {1}


# --- Tokens and service accounts (issue 10, defect 7) ---------------------------------


def test_a_retried_token_issue_creates_one_and_never_stores_the_key(client_for, viewer):
    from accounts.models import ApiToken, IdempotencyKey

    client = client_for(viewer)
    body = {"name": "ci", "scopes": ["read"]}

    first = client.post(
        "/api/v1/tokens/", body, format="json", HTTP_IDEMPOTENCY_KEY="t"
    )
    again = client.post(
        "/api/v1/tokens/", body, format="json", HTTP_IDEMPOTENCY_KEY="t"
    )

    assert first.status_code == again.status_code == 201
    assert ApiToken.objects.count() == 1
    assert first.json()["key"].startswith("mr_")
    assert again.json() == {**first.json(), "key": None}
    assert first.json()["key"] not in str(list(IdempotencyKey.objects.values()))


def test_a_retried_revoke_is_replayed(client_for, viewer):
    from accounts.models import AuditEvent
    from accounts.services import token_issue

    token, _ = token_issue(user=viewer)
    client = client_for(viewer)
    path = f"/api/v1/tokens/{token.pk}/revoke"

    first = client.post(path, HTTP_IDEMPOTENCY_KEY="rv")
    again = client.post(path, HTTP_IDEMPOTENCY_KEY="rv")

    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert AuditEvent.objects.filter(kind="token.revoked").count() == 1


def test_a_retried_service_account_creation_creates_one(client_for, admin_user):
    from accounts.models import ServiceAccount

    client = client_for(admin_user)
    body = {"username": "ci-bot", "roles": ["contributor"]}

    first = client.post(
        "/api/v1/service-accounts/", body, format="json", HTTP_IDEMPOTENCY_KEY="sa"
    )
    again = client.post(
        "/api/v1/service-accounts/", body, format="json", HTTP_IDEMPOTENCY_KEY="sa"
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert ServiceAccount.objects.count() == 1
