"""Issue 17: a version recorded without its files is never deployed."""

from __future__ import annotations

from typing import Any

import pytest

from catalog import services
from common.errors import Conflict
from deployments import services as deploy
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


def test_a_version_without_files_cannot_be_deployed(
    iris_group: Any, contributor: Any, endpoint: Any, approve: Any
) -> None:
    version = services.version_register_without_artifact(
        actor=contributor, group=iris_group, source_uri="s3://b/iris"
    )
    approve(version)

    with pytest.raises(Conflict) as refused:
        deploy.deployment_request(
            actor=endpoint.created_by, endpoint=endpoint, version_number=1
        )

    assert "no verified model file" in refused.value.message
    assert not Deployment.objects.filter(version=version).exists()


def test_approval_of_a_version_without_files_queues_no_deployment(
    iris_group: Any, contributor: Any, endpoint: Any
) -> None:
    from deployments.services.requests import on_version_approved

    version = services.version_register_without_artifact(
        actor=contributor, group=iris_group, source_uri="s3://b/iris"
    )

    assert on_version_approved(0, version) == []
