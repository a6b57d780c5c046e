"""Issue 10, defect 5: invocation inputs that are not numbers or nest too deep."""

from __future__ import annotations

import json

import pytest

from tests.helpers import SAMPLE

pytestmark = pytest.mark.django_db

DEEP_LIST = "[" * 5000 + "]" * 5000


@pytest.fixture
def live(endpoint, register_version, approve_and_deploy):
    version = register_version()
    approve_and_deploy(version)
    return version


@pytest.mark.parametrize(
    "inputs",
    [
        [[True, 1, 2, 3]],
        [[5.1, 3.5, 1.4, False]],
        [[5.1, 3.5, 1.4, 0.2], [1, 2, 3, True]],
    ],
)
def test_booleans_are_not_numbers_in_an_invocation(inputs, live, client_for, viewer):
    response = client_for(viewer).post(
        "/api/v1/endpoints/iris-prod/invocations", {"inputs": inputs}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "bool" in response.json()["error"]["message"]


def test_deep_json_in_an_invocation_is_a_400(live, client_for, viewer):
    response = client_for(viewer).post(
        "/api/v1/endpoints/iris-prod/invocations",
        json.dumps({"inputs": json.loads("[" * 100 + "]" * 100)}),
        content_type="application/json",
    )
    deeper = client_for(viewer).post(
        "/api/v1/endpoints/iris-prod/invocations",
        '{"inputs": ' + DEEP_LIST + "}",
        content_type="application/json",
    )

    assert response.status_code == 400, response.content
    assert deeper.status_code == 400, deeper.content
    fine = client_for(viewer).post(
        "/api/v1/endpoints/iris-prod/invocations", {"inputs": SAMPLE}, format="json"
    )
    assert fine.status_code == 200
