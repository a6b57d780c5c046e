"""Issue 10, defect 4: creating endpoints of one name at once is a 409, not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from common.errors import Conflict
from deployments import services as deploy
from deployments.models import Endpoint
from tests.concurrency import run_at_once


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_name_make_one_endpoint_and_conflicts(
    deployer, iris_group
):
    count = 16 if connection.vendor == "postgresql" else 4

    def create() -> Any:
        return deploy.endpoint_create(actor=deployer, name="race", group=iris_group)

    errors = run_at_once([create] * count)

    assert Endpoint.objects.filter(name="race").count() == 1
    assert len(errors) == count - 1
    assert all(isinstance(e, Conflict) for e in errors), errors
    assert all("name" in e.fields for e in errors if isinstance(e, Conflict))


def test_a_duplicate_name_is_a_409_naming_it(client_for, deployer, endpoint):
    response = client_for(deployer).post(
        "/api/v1/endpoints/",
        {"name": endpoint.name, "model_group": "iris"},
        format="json",
    )

    assert response.status_code == 409
    assert "name" in response.json()["error"]["fields"]
