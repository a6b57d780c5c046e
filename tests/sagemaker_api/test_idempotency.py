"""``ClientToken`` makes a retried create safe, and concurrent creates each get their
own number: 32 pipelines at once give versions 1..32 (issue 12)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from catalog.models import Event, ModelVersion
from tests.sagemaker_api.test_flow import SPEC, code, refused

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sm(sagemaker, make_user):
    client = sagemaker(make_user("contributor"), max_pool_connections=32)
    client.create_model_package_group(ModelPackageGroupName="churn")
    return client


def test_a_retry_with_the_same_client_token_creates_one_version(sm):
    params = {
        "ModelPackageGroupName": "churn",
        "InferenceSpecification": SPEC,
        "ClientToken": "run-42",
    }

    first = sm.create_model_package(**params)["ModelPackageArn"]
    again = sm.create_model_package(**params)["ModelPackageArn"]

    assert first == again
    assert ModelVersion.objects.count() == 1
    assert Event.objects.filter(kind="version.registered").count() == 1


def test_the_same_token_with_other_parameters_is_a_conflict(sm):
    sm.create_model_package(ModelPackageGroupName="churn", ClientToken="run-42")

    error = refused(
        sm.create_model_package,
        ModelPackageGroupName="churn",
        ClientToken="run-42",
        ModelPackageDescription="other",
    )

    assert code(error) == "ConflictException"
    assert ModelVersion.objects.count() == 1


def test_32_concurrent_creates_get_versions_1_to_32(sm):
    def create(n: int) -> str:
        return sm.create_model_package(
            ModelPackageGroupName="churn", ModelPackageDescription=f"run {n}"
        )["ModelPackageArn"]

    with ThreadPoolExecutor(max_workers=32) as pool:
        arns = list(pool.map(create, range(32)))

    numbers = sorted(int(arn.rsplit("/", 1)[1]) for arn in arns)
    assert numbers == list(range(1, 33))
    stored = ModelVersion.objects.filter(group__name="churn").values_list(
        "version", flat=True
    )
    assert sorted(stored) == list(range(1, 33))


def test_concurrent_retries_of_one_token_create_one_version(sm):
    def create(_: int) -> str:
        return sm.create_model_package(
            ModelPackageGroupName="churn", ClientToken="same-run"
        )["ModelPackageArn"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        arns = set(pool.map(create, range(8)))

    assert len(arns) == 1
    assert ModelVersion.objects.count() == 1
