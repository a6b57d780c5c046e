"""Invocations are limited per token (issue 10, hardening)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.services import token_issue
from tests.helpers import SAMPLE

INVOKE = "/api/v1/endpoints/iris-prod/invocations"


@pytest.fixture
def live(endpoint, register_version, approve_and_deploy):
    version = register_version()
    approve_and_deploy(version)
    return version


def invoker(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_invocations_are_limited_per_token(live, settings, viewer):
    settings.REGISTRY_RATE_LIMITS = {
        **settings.REGISTRY_RATE_LIMITS,
        "invocation": "2/m",
    }
    _, key = token_issue(user=viewer, scopes=["invoke"])
    _, other_key = token_issue(user=viewer, scopes=["invoke"])
    client = invoker(key)
    answers = [client.post(INVOKE, {"inputs": SAMPLE}, format="json") for _ in range(3)]

    other = invoker(other_key).post(INVOKE, {"inputs": SAMPLE}, format="json")

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 0 < int(answers[2]["Retry-After"]) <= 60
    assert answers[2].json()["error"]["code"] == "throttled"
    assert other.status_code == 200


def test_invocations_are_not_limited_unless_configured(live, viewer):
    _, key = token_issue(user=viewer, scopes=["invoke"])
    client = invoker(key)

    statuses = {
        client.post(INVOKE, {"inputs": SAMPLE}, format="json").status_code
        for _ in range(5)
    }

    assert statuses == {200}
