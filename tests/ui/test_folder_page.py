"""Issue 17: the version page of an MLflow model folder lists its files (each a
download, with size and SHA-256) and the manifest digest; an import in progress says
where the files come from."""

from __future__ import annotations

import re
from typing import Any

import pytest

from catalog import folders, services
from tests.catalog.test_folders import onnx_folder

pytestmark = pytest.mark.django_db


def test_a_folder_version_lists_its_files_and_manifest_digest(
    browser_for, viewer, contributor, tmp_path
):
    group = services.group_create(actor=contributor, name="iris")
    files = onnx_folder(tmp_path)
    version = folders.version_register_folder(
        actor=contributor, group=group, files=files
    )
    client = browser_for(viewer)

    page = client.get("/models/iris/versions/1/").content.decode()

    assert f'title="{version.manifest_sha256}"' in page
    links = re.findall(
        r'<a href="(/api/v1/model-groups/iris/versions/1/files/[^"]+)"', page
    )
    assert sorted(links) == sorted(
        f"/api/v1/model-groups/iris/versions/1/files/{path}" for path in files
    )
    for entry in version.artifact_manifest:
        assert f'title="{entry["sha256"]}"' in page
    downloaded = client.get(links[0])
    assert downloaded.status_code == 200


def test_a_single_file_version_has_no_file_list(browser_for, viewer, v1: Any) -> None:
    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert 'data-testid="manifest"' not in page


def test_an_import_in_progress_says_where_the_files_come_from(
    browser_for, viewer, contributor, settings
):
    settings.REGISTRY_MLFLOW_IMPORT_SOURCES = ["http://mlflow.internal:5000"]
    group = services.group_create(actor=contributor, name="iris")
    services.version_register_from_source(
        actor=contributor, group=group, source_uri="models:/m-0123abcd"
    )

    page = browser_for(viewer).get("/models/iris/versions/1/").content.decode()

    assert "being imported from <code>models:/m-0123abcd</code>" in page
