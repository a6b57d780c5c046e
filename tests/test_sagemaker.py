"""SageMaker ARNs are built in one place, from the configured region and account."""

from __future__ import annotations

from common import sagemaker


def test_a_model_package_arn_names_the_group_version_region_and_account(settings):
    settings.REGISTRY_SAGEMAKER_REGION = "eu-west-1"
    settings.REGISTRY_SAGEMAKER_ACCOUNT = "123456789012"

    arn = sagemaker.model_package_arn("churn", 3)

    assert arn == "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/3"
