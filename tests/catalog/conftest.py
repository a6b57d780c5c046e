"""Catalog fixtures: groups and versions made through the services, fast and real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile

from catalog import services
from catalog.models import ModelGroup, ModelVersion
from tests import models as real_models


@pytest.fixture
def make_group(contributor: Any) -> Callable[..., ModelGroup]:
    def make(name: str, **fields: Any) -> ModelGroup:
        actor = fields.pop("actor", contributor)
        return services.group_create(actor=actor, name=name, **fields)

    return make


@pytest.fixture
def make_version(contributor: Any) -> Callable[..., ModelVersion]:
    """Register a real ONNX model through the service (no HTTP)."""

    def make(group: ModelGroup, content: bytes | None = None, **fields: Any) -> Any:
        actor = fields.pop("actor", contributor)
        filename = fields.pop("filename", "m.onnx")
        artifact = ContentFile(content or real_models.iris_onnx(), name=filename)
        return services.version_register(
            actor=actor, group=group, artifact=artifact, **fields
        )

    return make
