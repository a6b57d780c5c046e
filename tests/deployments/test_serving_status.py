"""Issue 13: a failed load is tried again with backoff, and each process says what
it serves (the endpoint page)."""

from __future__ import annotations

import time

import pytest

from catalog.services import artifact_storage
from deployments import serving
from tests.helpers import SAMPLE

pytestmark = pytest.mark.django_db


def test_a_failed_load_is_tried_again_after_a_backoff(
    endpoint, register_version, approve_and_deploy, monkeypatch
):
    version = register_version()
    approve_and_deploy(version)
    storage = artifact_storage()
    good = storage.open(version.artifact_key).read()
    path = storage.path(version.artifact_key)
    monkeypatch.setattr(serving, "RETRY_FIRST", 0.3)
    serving.forget()
    with open(path, "wb") as broken:
        broken.write(b"not the bytes that were checked")

    with pytest.raises(serving.NotServing, match="cannot serve"):
        serving.predict("iris-prod", SAMPLE)
    failure = serving._states["iris-prod"].failed[version.pk]
    assert failure.attempts == 1

    with open(path, "wb") as repaired:
        repaired.write(good)
    with pytest.raises(serving.NotServing):  # within the backoff: not tried again
        serving.predict("iris-prod", SAMPLE)
    assert serving._states["iris-prod"].failed[version.pk].attempts == 1

    time.sleep(0.35)
    live, outputs = serving.predict("iris-prod", SAMPLE)
    assert live.version_number == 1
    assert outputs
    assert version.pk not in serving._states["iris-prod"].failed


def test_the_endpoint_page_shows_what_each_process_serves(
    endpoint, register_version, approve_and_deploy, client, viewer, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    approve_and_deploy(register_version())
    serving.predict("iris-prod", SAMPLE)
    serving.report_status()
    client.force_login(viewer)

    page = client.get("/endpoints/iris-prod/").content.decode()

    assert 'data-testid="serving-processes"' in page
    assert "1 serving process" in page
    assert "v1" in page
    status = serving.processes()
    assert status[0]["endpoints"]["iris-prod"]["serving_version"] == 1
