"""Lists cost the same few queries whatever their length (issue 12), measured in
process with requests signed by botocore's signer."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import access_key_issue
from catalog import services as catalog
from catalog.selectors import group_get
from tests.sagemaker_api.conftest import amz_date, sigv4_authorization

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(contributor):
    key, secret = access_key_issue(actor=contributor)
    client = Client()

    def send(operation: str, params: dict) -> tuple[dict, int]:
        body = json.dumps(params).encode()
        stamp = amz_date()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"SageMaker.{operation}",
            "X-Amz-Date": stamp,
            "Host": "testserver",
        }
        authorization = sigv4_authorization(
            key.access_key_id,
            secret,
            "POST",
            "http://testserver/sagemaker/",
            headers,
            body,
        )
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/sagemaker/",
                body,
                content_type="application/x-amz-json-1.1",
                HTTP_X_AMZ_TARGET=headers["X-Amz-Target"],
                HTTP_X_AMZ_DATE=stamp,
                HTTP_AUTHORIZATION=authorization,
                HTTP_HOST="testserver",
            )
        assert response.status_code == 200, response.content
        return json.loads(response.content), len(queries)

    return send


def _versions(actor, count: int) -> None:
    group = group_get("churn")
    for _ in range(count):
        catalog.version_register_without_artifact(actor=actor, group=group)


@pytest.mark.parametrize(
    ("operation", "params", "key"),
    [
        (
            "ListModelPackages",
            {"ModelPackageGroupName": "churn"},
            "ModelPackageSummaryList",
        ),
        ("ListModelPackageGroups", {}, "ModelPackageGroupSummaryList"),
        ("ListEndpoints", {}, "Endpoints"),
    ],
)
def test_a_list_costs_the_same_queries_for_2_or_20_rows(
    call, contributor, deployer, operation, params, key
):
    from deployments.services import endpoint_create

    call("CreateModelPackageGroup", {"ModelPackageGroupName": "churn"})
    _versions(contributor, 2)
    endpoint_create(actor=deployer, name="e0", group=group_get("churn"))
    _, few = call(operation, params)
    _versions(contributor, 18)
    for n in range(1, 20):
        catalog.group_create(actor=contributor, name=f"g{n}")
        endpoint_create(actor=deployer, name=f"e{n}", group=group_get("churn"))

    answer, many = call(operation, params)

    assert len(answer[key]) == 20
    assert many == few


def test_batch_describe_costs_the_same_queries_for_2_or_20_packages(call, contributor):
    call("CreateModelPackageGroup", {"ModelPackageGroupName": "churn"})
    _versions(contributor, 20)
    arns = [f"churn/{n}" for n in range(1, 21)]

    _, few = call("BatchDescribeModelPackage", {"ModelPackageArnList": arns[:2]})
    answer, many = call("BatchDescribeModelPackage", {"ModelPackageArnList": arns})

    assert len(answer["ModelPackageSummaries"]) == 20
    assert many == few
