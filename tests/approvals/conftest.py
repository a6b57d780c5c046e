"""Approvals fixtures: groups and versions registered through the services, reviewers
with e-mail addresses, and the admin who edits approval policies."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile

from approvals import services
from approvals.models import ApprovalPolicy
from catalog import services as catalog_services
from catalog.models import ModelGroup, ModelVersion
from tests import models as real_models

_reviewer_names = itertools.count(1)


@pytest.fixture
def make_group(owner: Any) -> Callable[..., ModelGroup]:
    def make(name: str) -> ModelGroup:
        return catalog_services.group_create(actor=owner, name=name)

    return make


@pytest.fixture
def iris(make_group: Callable[..., ModelGroup]) -> ModelGroup:
    return make_group("iris")


@pytest.fixture
def make_version(owner: Any, iris: ModelGroup) -> Callable[..., ModelVersion]:
    """Register a real ONNX model through the catalog service (no HTTP)."""

    def make(
        group: ModelGroup | None = None, *, actor: Any = None, **fields: Any
    ) -> ModelVersion:
        return catalog_services.version_register(
            actor=actor or owner,
            group=group or iris,
            artifact=ContentFile(real_models.iris_onnx(), name="m.onnx"),
            **fields,
        )

    return make


@pytest.fixture
def version(make_version: Callable[..., ModelVersion]) -> ModelVersion:
    """Version 1 of ``iris``, pending approval."""
    return make_version()


@pytest.fixture
def make_reviewer(make_user: Callable[..., Any]) -> Callable[..., Any]:
    """A reviewer (plus any extra roles) with an e-mail address."""

    def make(*roles: str, **extra: Any) -> Any:
        name = f"reviewer{next(_reviewer_names)}"
        extra.setdefault("email", f"{name}@example.com")
        return make_user("reviewer", *roles, username=name, **extra)

    return make


@pytest.fixture
def set_policy(admin_user: Any, iris: ModelGroup) -> Callable[..., ApprovalPolicy]:
    """Replace a group's approval policy as an admin (``iris`` unless told)."""

    def set_(group: ModelGroup | None = None, **fields: Any) -> ApprovalPolicy:
        return services.policy_update(actor=admin_user, group=group or iris, **fields)

    return set_
