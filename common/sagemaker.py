"""SageMaker names for registry objects, for every face that speaks SageMaker.

A model group is a SageMaker model package group and version N of it the model
package ``group/N``; the region and account in their ARNs are settings. Imports no app.
"""

from __future__ import annotations

from django.conf import settings


def arn(resource: str) -> str:
    """The ARN of a SageMaker ``resource`` (``type/name``) in the configured account."""
    region = settings.REGISTRY_SAGEMAKER_REGION
    account = settings.REGISTRY_SAGEMAKER_ACCOUNT
    return f"arn:aws:sagemaker:{region}:{account}:{resource}"


def model_package_arn(group: str, version: int) -> str:
    """The ARN of version ``version`` of model group ``group``."""
    return arn(f"model-package/{group}/{version}")
