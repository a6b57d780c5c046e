import os
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments import services
from deployments.models import WorkerHeartbeat
from tests.helpers import wait_for


@pytest.mark.django_db
def test_healthz_needs_no_login_and_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_readyz_reports_migrations_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"] == "ok"


@pytest.mark.django_db
def test_the_api_needs_authentication(client):
    response = client.get("/api/v1/model-groups/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_readyz_says_when_no_worker_has_beaten_yet(client):
    body = client.get("/readyz").json()

    assert (body["status"], body["worker"]) == ("ok", "no heartbeat yet")


@pytest.mark.django_db
def test_readyz_reports_the_workers_last_heartbeat(client):
    services.heartbeat_record()

    body = client.get("/readyz").json()

    assert body["worker"] == "ok"
    assert float(body["worker_heartbeat_age"]) < 5
    assert body["worker_heartbeat"]


@pytest.mark.django_db
def test_an_old_heartbeat_is_stale_but_the_web_stays_ready(client, settings):
    services.heartbeat_record()
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(minutes=5))

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["worker"] == "stale"


def test_the_real_worker_beats(worker):
    beat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(lane="deployments").first(),
        timeout=30,
        message="the worker's first heartbeat",
    )

    assert beat.pid != os.getpid()
