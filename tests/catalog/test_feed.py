"""The event feed returns every event exactly once while events are being written."""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connections, transaction

from catalog.models import Event
from catalog.services import event_record


def _read_all(client, after: str = "0") -> tuple[list[int], str]:
    ids: list[int] = []
    while True:
        body = client.get(f"/api/v1/events/?after={after}&limit=7").json()
        ids += [event["id"] for event in body["results"]]
        after = body["next_cursor"]
        if not body["has_more"]:
            return ids, after


# The feed shows only committed work, so these tests commit (transaction=True).
@pytest.mark.django_db(transaction=True)
def test_the_feed_pages_in_order_with_a_cursor(client_for, viewer):
    for index in range(20):
        event_record("test.event", actor=viewer, payload={"n": index})

    ids, cursor = _read_all(client_for(viewer))

    assert ids == sorted(Event.objects.values_list("id", flat=True))
    again = client_for(viewer).get(f"/api/v1/events/?after={cursor}").json()
    assert again["results"] == []
    assert again["next_cursor"] == cursor


@pytest.mark.django_db(transaction=True)
def test_now_starts_after_everything_that_exists(client_for, viewer):
    event_record("test.old", actor=viewer)
    head = client_for(viewer).get("/api/v1/events/?after=now").json()
    event_record("test.new", actor=viewer)

    body = client_for(viewer).get(f"/api/v1/events/?after={head['next_cursor']}").json()

    assert [e["kind"] for e in body["results"]] == ["test.new"]


def test_a_bad_cursor_is_a_400_naming_after(client_for, viewer, db):
    response = client_for(viewer).get("/api/v1/events/?after=abc")
    assert response.status_code == 400
    assert "after" in response.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_every_event_is_read_exactly_once_while_slow_and_fast_writers_commit(
    client_for, viewer
):
    stop = threading.Event()

    def writer(slow: bool) -> None:
        rng = random.Random()
        try:
            while not stop.is_set():
                with transaction.atomic():
                    event_record("test.write", actor=None, payload={"slow": slow})
                    # A slow writer takes its id early and commits late.
                    time.sleep(rng.uniform(0.02, 0.08) if slow else 0)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=writer, args=(i % 2 == 0,)) for i in range(4)]
    client = client_for(viewer)
    seen: list[int] = []
    after = "0"
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        ids, after = _read_all(client, after)
        seen += ids
    stop.set()
    for thread in writers:
        thread.join()
    written = list(Event.objects.filter(kind="test.write").values_list("id", flat=True))
    # The feed may lag while any older transaction in the cluster is still open (a
    # worker handling these events): read until everything written has come.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ids, after = _read_all(client, after)
        seen += ids
        if len(set(seen) & set(written)) >= len(written):
            break
        time.sleep(0.1)

    assert len(written) > 20
    assert len(seen) == len(set(seen)), "an event was returned twice"
    assert sorted(seen) == sorted(written), "an event was missed"
