"""The event log: written with every change, listed and filtered, append-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from catalog import services
from catalog.models import Event
from tests.catalog.helpers import fields_of

EVENTS = "/api/v1/events/"


def kinds(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["kind"] for row in response.json()["results"]]


def test_every_change_writes_its_event(register, api, contributor):
    register(metrics={"accuracy": 0.9})
    register()
    api.patch(
        "/api/v1/model-groups/iris/versions/1/", {"description": "x"}, format="json"
    )
    api.put("/api/v1/model-groups/iris/aliases/prod", {"version": 1}, format="json")
    api.delete("/api/v1/model-groups/iris/versions/2/")

    rows = list(
        Event.objects.order_by("id").values_list(
            "kind", "group_name", "version_number", "actor_name"
        )
    )

    who = contributor.username
    assert rows == [
        ("group.created", "iris", None, who),
        ("version.registered", "iris", 1, who),
        ("version.registered", "iris", 2, who),
        ("version.updated", "iris", 1, who),
        ("alias.set", "iris", 1, who),
        ("version.deleted", "iris", 2, who),
    ]


def test_patching_a_group_records_what_changed(make_group, api):
    make_group("iris")

    api.patch("/api/v1/model-groups/iris/", {"tags": {"a": "b"}}, format="json")

    event = Event.objects.filter(kind="group.updated").get()
    assert event.payload == {"tags": {"a": "b"}}


def test_the_registered_event_records_the_artifact(register):
    body = register(metrics={"accuracy": 0.9}).json()

    event = Event.objects.get(kind="version.registered")

    assert event.payload == {
        "sha256": body["artifact"]["sha256"],
        "size": body["artifact"]["size"],
        "format": "onnx",
        "registration_status": "Ready",
        "metrics": {"accuracy": 0.9},
        "description": "",
        "customer_metadata": {},
    }


def test_the_events_list_is_newest_first(register, api):
    register()

    assert kinds(api.get(EVENTS)) == ["version.registered", "group.created"]


def test_the_events_list_filters_by_kind(register, api):
    register()
    api.put("/api/v1/model-groups/iris/aliases/prod", {"version": 1}, format="json")

    assert kinds(api.get(EVENTS, {"kind": "alias.set"})) == ["alias.set"]
    assert kinds(api.get(EVENTS, {"kind": "alias.set,group.created"})) == [
        "alias.set",
        "group.created",
    ]


def test_the_events_list_filters_by_group(make_group, api):
    make_group("iris")
    make_group("churn")

    response = api.get(EVENTS, {"group": "churn"})

    assert [row["group"] for row in response.json()["results"]] == ["churn"]


def test_the_events_list_filters_by_version(register, api):
    register()
    register()

    response = api.get(EVENTS, {"version": 2})

    assert [row["version"] for row in response.json()["results"]] == [2]


def test_the_events_list_filters_by_actor(make_group, make_user, api):
    make_group("iris")
    make_group("churn", actor=make_user("contributor", username="carol"))

    response = api.get(EVENTS, {"actor": "carol"})

    assert [row["group"] for row in response.json()["results"]] == ["churn"]


def test_the_events_list_filters_by_since_and_until(api):
    now = timezone.now()
    Event.objects.create(kind="old", created_at=now - timedelta(days=2))
    Event.objects.create(kind="new", created_at=now)
    cut = (now - timedelta(days=1)).isoformat()

    assert kinds(api.get(EVENTS, {"since": cut})) == ["new"]
    assert kinds(api.get(EVENTS, {"until": cut})) == ["old"]


def test_the_events_list_refuses_a_bad_since(api):
    response = api.get(EVENTS, {"since": "last week"})

    assert response.status_code == 400
    assert "since" in fields_of(response)


def test_the_events_list_pages_with_a_cursor(make_group, api):
    for index in range(3):
        make_group(f"g{index}")

    first = api.get(EVENTS, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [row["group"] for row in first["results"]] == ["g2", "g1"]
    assert [row["group"] for row in second["results"]] == ["g0"]


def test_events_outlive_the_group_they_describe(make_group, contributor):
    group = make_group("iris")

    services.group_delete(actor=contributor, group=group)

    assert list(
        Event.objects.filter(group_name="iris").values_list("kind", flat=True)
    ) == ["group.deleted", "group.created"]


# --- append-only ------------------------------------------------------------------


@pytest.fixture
def event(db: Any) -> Event:
    return Event.objects.create(kind="group.created", group_name="iris")


def test_an_event_cannot_be_saved_again(event):
    event.kind = "forged"

    with pytest.raises(PermissionError):
        event.save()

    event.refresh_from_db()
    assert event.kind == "group.created"


def test_an_event_cannot_be_deleted(event):
    with pytest.raises(PermissionError):
        event.delete()

    assert Event.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda: Event.objects.filter(kind="group.created").update(kind="forged"),
        lambda: Event.objects.update(kind="forged"),
        lambda: Event.objects.all().delete(),
        lambda: Event.objects.filter(kind="group.created").delete(),
        lambda: Event.objects.bulk_update(
            [Event(pk=Event.objects.get().pk, kind="forged")], ["kind"]
        ),
    ],
    ids=["filter-update", "manager-update", "all-delete", "filter-delete", "bulk"],
)
def test_events_refuse_bulk_changes(change, event):
    with pytest.raises(PermissionError), transaction.atomic():
        change()

    assert list(Event.objects.values_list("kind", flat=True)) == ["group.created"]


def test_an_event_fetched_from_the_database_cannot_be_saved(event):
    fetched = Event.objects.get(pk=event.pk)

    with pytest.raises(PermissionError):
        fetched.save(update_fields=["kind"])
