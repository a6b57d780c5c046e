from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests import models as real_models

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def _artifact_dir(settings: Any, tmp_path: Any) -> None:
    """Each test stores artifacts in its own folder, so leftovers are visible."""
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "artifacts")},
        },
    }
    (tmp_path / "artifacts").mkdir()


@pytest.fixture
def artifact_root(tmp_path: Any) -> Any:
    return tmp_path / "artifacts"


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    def make(*roles: str, username: str | None = None, **extra: Any) -> Any:
        name = username or f"user{next(_names)}-{'-'.join(roles) or 'none'}"
        user = get_user_model().objects.create_user(
            username=name, password="pw", **extra
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def viewer(make_user: Callable[..., Any]) -> Any:
    return make_user("viewer")


@pytest.fixture
def contributor(make_user: Callable[..., Any]) -> Any:
    return make_user("contributor")


@pytest.fixture
def reviewer(make_user: Callable[..., Any]) -> Any:
    return make_user("reviewer")


@pytest.fixture
def admin_user(make_user: Callable[..., Any]) -> Any:
    return make_user("admin")


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    def make(user: Any | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def api(client_for: Callable[[Any], APIClient], contributor: Any) -> APIClient:
    """A contributor's client."""
    return client_for(contributor)


def onnx_upload(
    name: str = "model.onnx", content: bytes | None = None
) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name,
        content if content is not None else real_models.iris_onnx(),
        content_type="application/octet-stream",
    )


def register_payload(**fields: Any) -> dict[str, Any]:
    """A multipart body: JSON-valued fields are sent as JSON strings, as clients do."""
    body: dict[str, Any] = {"artifact": fields.pop("artifact", None) or onnx_upload()}
    for key, value in fields.items():
        body[key] = (
            value
            if isinstance(value, str) or hasattr(value, "read")
            else json.dumps(value)
        )
    return body


@pytest.fixture
def group(api: APIClient) -> dict[str, Any]:
    response = api.post("/api/v1/model-groups/", {"name": "iris"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def register(api: APIClient, group: dict[str, Any]) -> Callable[..., Any]:
    def do(
        group_name: str = "iris", client: APIClient | None = None, **fields: Any
    ) -> Any:
        return (client or api).post(
            f"/api/v1/model-groups/{group_name}/versions/",
            register_payload(**fields),
            format="multipart",
        )

    return do
