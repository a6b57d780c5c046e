"""Issue 17: MLflow searches cost the same few queries whatever the page holds."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import token_issue
from catalog import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(contributor: Any) -> Client:
    _, key = token_issue(user=contributor, scopes=["read", "write"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def fill(contributor: Any, groups: int, versions: int) -> None:
    for g in range(groups):
        group = services.group_create(actor=contributor, name=f"m{g}", tags={"t": "x"})
        for _ in range(versions):
            services.version_register_without_artifact(
                actor=contributor, group=group, source_uri="s3://b", tags={"k": "v"}
            )
        services.alias_set(
            actor=contributor, group=group, name="candidate", version_number=1
        )


def count(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(path)
    assert answer.status_code == 200, answer.content
    return len(queries)


@pytest.mark.parametrize(
    "path",
    [
        "/api/2.0/mlflow/registered-models/search?filter=tags.t%3D%27x%27",
        "/api/2.0/mlflow/model-versions/search?filter=tags.k%3D%27v%27",
    ],
)
def test_searches_take_a_constant_number_of_queries(
    client: Client, contributor: Any, path: str
) -> None:
    fill(contributor, 2, 2)
    client.get(path)  # the token is remembered after its first use
    small = count(client, path)
    for name in [f"n{i}" for i in range(6)]:
        group = services.group_create(actor=contributor, name=name, tags={"t": "x"})
        for _ in range(3):
            services.version_register_without_artifact(
                actor=contributor, group=group, tags={"k": "v"}
            )

    assert count(client, path) == small


def test_the_ajax_mirror_answers_like_the_api(client: Client, contributor: Any):
    fill(contributor, 1, 1)

    api = client.get("/api/2.0/mlflow/registered-models/get?name=m0").json()
    ajax = client.get("/ajax-api/2.0/mlflow/registered-models/get?name=m0").json()

    assert api == ajax
    assert api["registered_model"]["aliases"] == [
        {"alias": "candidate", "version": "1"}
    ]
