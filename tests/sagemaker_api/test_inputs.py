"""Every invalid input answers a 4xx AWS error, never a 5xx (botocore retries those).
The client's own validation is off here, so the server sees what a careless or
hostile client would send."""

from __future__ import annotations

import pytest

from tests.sagemaker_api.conftest import body_of, issue_key, signed_post

pytestmark = pytest.mark.django_db(transaction=True)

ARN = "arn:aws:sagemaker:us-east-1:000000000000"


@pytest.fixture
def post(web_server, transactional_db, make_user):
    key = issue_key(web_server.url, make_user("contributor", "reviewer"))
    created = signed_post(
        web_server.url,
        key,
        body_of({"ModelPackageGroupName": "churn"}),
        target="SageMaker.CreateModelPackageGroup",
    )
    assert created.status_code == 200, created.text

    def send(operation: str, params=None, raw: bytes | None = None):
        body = raw if raw is not None else body_of(params or {})
        return signed_post(web_server.url, key, body, target=f"SageMaker.{operation}")

    return send


CASES = [
    ("CreateModelPackageGroup", {}, "ValidationException"),
    ("CreateModelPackageGroup", {"ModelPackageGroupName": 7}, "ValidationException"),
    (
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "a" * 64},
        "ValidationException",
    ),
    (
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "bad--name"},
        "ValidationException",
    ),
    (
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "churn"},
        "ConflictException",
    ),
    (
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "x", "Tags": [{"Key": "k"}]},
        "ValidationException",
    ),
    (
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "x", "Nope": 1},
        "ValidationException",
    ),
    (
        "DescribeModelPackageGroup",
        {"ModelPackageGroupName": "absent"},
        "ResourceNotFound",
    ),
    (
        "DescribeModelPackageGroup",
        {
            "ModelPackageGroupName": "arn:aws:sagemaker:eu-west-1:111111111111:model-package-group/churn"
        },
        "ValidationException",
    ),
    ("ListModelPackageGroups", {"MaxResults": 0}, "ValidationException"),
    ("ListModelPackageGroups", {"MaxResults": 101}, "ValidationException"),
    ("ListModelPackageGroups", {"MaxResults": "ten"}, "ValidationException"),
    ("ListModelPackageGroups", {"NextToken": "garbage"}, "ValidationException"),
    ("ListModelPackageGroups", {"SortBy": "Size"}, "ValidationException"),
    (
        "ListModelPackageGroups",
        {"CreationTimeAfter": "yesterday"},
        "ValidationException",
    ),
    (
        "ListModelPackages",
        {"ModelPackageGroupName": "churn", "ModelApprovalStatus": "Maybe"},
        "ValidationException",
    ),
    ("ListModelPackages", {"ModelPackageGroupName": "absent"}, "ResourceNotFound"),
    ("CreateModelPackage", {"ModelPackageName": "unversioned"}, "ValidationException"),
    (
        "CreateModelPackage",
        {"ModelPackageGroupName": "churn", "ModelApprovalStatus": "Yes"},
        "ValidationException",
    ),
    (
        "CreateModelPackage",
        {"ModelPackageGroupName": "churn", "CustomerMetadataProperties": {"k": 1}},
        "ValidationException",
    ),
    (
        "CreateModelPackage",
        {
            "ModelPackageGroupName": "churn",
            "InferenceSpecification": {"Containers": "x"},
        },
        "ValidationException",
    ),
    (
        "CreateModelPackage",
        {"ModelPackageGroupName": "churn", "ClientToken": "x" * 37},
        "ValidationException",
    ),
    ("DescribeModelPackage", {"ModelPackageName": "churn"}, "ValidationException"),
    ("DescribeModelPackage", {"ModelPackageName": "churn/99"}, "ResourceNotFound"),
    (
        "DescribeModelPackage",
        {"ModelPackageName": f"{ARN}:model-package/churn/x"},
        "ValidationException",
    ),
    (
        "UpdateModelPackage",
        {"ModelPackageArn": f"{ARN}:model-package/churn/1"},
        "ResourceNotFound",
    ),
    (
        "DeleteModelPackage",
        {"ModelPackageName": f"{ARN}:endpoint/churn"},
        "ValidationException",
    ),
    ("BatchDescribeModelPackage", {"ModelPackageArnList": []}, "ValidationException"),
    (
        "AddTags",
        {
            "ResourceArn": f"{ARN}:model-package-group/churn",
            "Tags": [{"Key": "a:b", "Value": "v"}],
        },
        "ValidationException",
    ),
    (
        "AddTags",
        {"ResourceArn": f"{ARN}:endpoint/churn", "Tags": []},
        "ValidationException",
    ),
    (
        "ListTags",
        {"ResourceArn": f"{ARN}:model-package-group/absent"},
        "ResourceNotFound",
    ),
    ("DescribeEndpoint", {"EndpointName": "absent"}, "ValidationException"),
    ("ListEndpoints", {"StatusEquals": "Sleeping"}, "ValidationException"),
    ("CreateTrainingJob", {}, "UnsupportedOperation"),
    ("NoSuchOperation", {}, "UnknownOperationException"),
]


@pytest.mark.parametrize(("operation", "params", "error"), CASES)
def test_invalid_input_is_a_4xx_aws_error(post, operation, params, error):
    response = post(operation, params)

    assert response.status_code == 400, response.text
    assert response.json()["__type"] == error
    assert response.json()["message"]


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'"text"', b"{" * 5000, b"\xff\xfe"]
)
def test_a_body_that_is_not_a_json_object_is_a_4xx(post, raw):
    response = post("ListModelPackageGroups", raw=raw)

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["__type"] in (
        "SerializationException",
        "ValidationException",
    )
