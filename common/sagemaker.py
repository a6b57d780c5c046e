"""SageMaker names for registry objects, for every face that speaks SageMaker.

A model group is a SageMaker model package group and version N of it the model
package ``group/N``; an endpoint is an endpoint of the same name. The region and
account in their ARNs are settings. Imports no app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

_ARN_RE = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>[0-9]{12}):"
    r"(?P<type>[a-z\-]+)/(?P<name>.+)\Z"
)
_NUMBER_RE = re.compile(r"[0-9]{1,9}\Z")


def arn(resource: str) -> str:
    """The ARN of a SageMaker ``resource`` (``type/name``) in the configured account."""
    region = settings.REGISTRY_SAGEMAKER_REGION
    account = settings.REGISTRY_SAGEMAKER_ACCOUNT
    return f"arn:aws:sagemaker:{region}:{account}:{resource}"


def model_package_arn(group: str, version: int) -> str:
    """The ARN of version ``version`` of model group ``group``."""
    return arn(f"model-package/{group}/{version}")


def model_package_group_arn(group: str) -> str:
    """The ARN of model group ``group`` (a SageMaker model package group)."""
    return arn(f"model-package-group/{group}")


def endpoint_arn(name: str) -> str:
    return arn(f"endpoint/{name}")


@dataclass(frozen=True)
class Resource:
    """What an ARN (or a plain name) names: ``type`` and ``name`` as in the ARN."""

    type: str
    name: str


def parse_arn(value: str) -> Resource | None:
    """The resource an ARN of this account names, or None if ``value`` is not one
    (another account's or region's ARN names nothing here)."""
    match = _ARN_RE.match(value)
    if match is None:
        return None
    if (
        match["account"] != settings.REGISTRY_SAGEMAKER_ACCOUNT
        or match["region"] != settings.REGISTRY_SAGEMAKER_REGION
    ):
        return None
    return Resource(match["type"], match["name"])


def is_arn(value: str) -> bool:
    return value.startswith("arn:")


def group_name(value: str) -> str | None:
    """A model group's name from its name or its ARN (None: not such an ARN)."""
    if not is_arn(value):
        return value
    found = parse_arn(value)
    if found is None or found.type != "model-package-group":
        return None
    return found.name


def package_ref(value: str) -> tuple[str, int] | None:
    """``(group, version)`` from a model package's ARN or ``group/version``."""
    if is_arn(value):
        found = parse_arn(value)
        if found is None or found.type != "model-package":
            return None
        value = found.name
    group, _, number = value.partition("/")
    if not group or not _NUMBER_RE.match(number):
        return None
    return group, int(number)
