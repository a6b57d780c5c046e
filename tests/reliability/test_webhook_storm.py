"""Issue 16 drill: a webhook receiver that never answers, for the whole window, while
20 deployments run on the registry as `make run` starts it. Deployments have their
own worker and queue, so their latency stays within twice that of a quiet run."""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from typing import Any

import pytest
import requests
from django.core.files.base import ContentFile

from accounts.services import token_issue
from catalog import services
from catalog.models import ModelVersion
from deployments import services as deploy
from deployments.models import Deployment
from tests import models as real_models
from tests.helpers import SAMPLE, wait_for
from webhooks import services as webhooks
from webhooks.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)
QUIET = 5
STORM = 20 if os.environ.get("REGISTRY_SLOW_TESTS") != "1" else 60


class BlackHole:
    """Accepts connections and reads, never answers: each delivery waits its timeout."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


def _approve(url: str, key: str, version: ModelVersion) -> float:
    """Approve through the launched server's API; seconds until the endpoint's
    deployment of the version Succeeded."""
    started = time.monotonic()
    answer = requests.post(
        f"{url}/api/v1/model-groups/iris/versions/{version.version}/reviews/",
        json={"decision": "approve"},
        headers={"Authorization": f"Token {key}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    wait_for(
        lambda: Deployment.objects.filter(version=version, status="Succeeded").exists(),
        timeout=120,
        interval=0.05,
        message=f"the deployment of v{version.version}",
    )
    return time.monotonic() - started


def test_a_receiver_that_never_answers_does_not_slow_deployments(
    launched: Any, contributor: Any, reviewer: Any, deployer: Any
):
    group = services.group_create(actor=contributor, name="iris")
    deploy.endpoint_create(actor=deployer, name="iris-prod", group=group)
    content = real_models.iris_onnx()
    versions = [
        services.version_register(
            actor=contributor,
            group=group,
            artifact=ContentFile(content, name="iris.onnx"),
            sample_payload={"inputs": SAMPLE},
        )
        for _ in range(QUIET + STORM)
    ]
    _, key = token_issue(user=reviewer, name="drill")
    url = launched.url

    quiet = [_approve(url, key, version) for version in versions[:QUIET]]
    hole = BlackHole()
    try:
        webhooks.subscription_create(
            actor=deployer,
            url=f"http://127.0.0.1:{hole.port}/hook",
            events=["*"],
            secret="s" * 32,
        )
        storm = [_approve(url, key, version) for version in versions[QUIET:]]
        waiting = Delivery.objects.filter(status=DeliveryStatus.PENDING).count()
    finally:
        hole.close()

    assert waiting >= STORM  # the receiver really held deliveries back
    quiet_p50, storm_p50 = statistics.median(quiet), statistics.median(storm)
    print(f"deployment p50: quiet {quiet_p50:.2f} s, storm {storm_p50:.2f} s")
    assert storm_p50 <= max(2 * quiet_p50, quiet_p50 + 0.5), (quiet, storm)
