"""Issue 10, audit: every change to a webhook subscription is an event."""

from __future__ import annotations

from typing import Any

from catalog.models import Event

SECRET = "whsec-0123456789abcdef"


def _subscribe(client: Any, url: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhooks/",
        {"url": url + "?token=abc", "events": ["*"], "secret": SECRET},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_creating_changing_and_deleting_a_webhook_writes_events(
    client_for, deployer, receiver
):
    client = client_for(deployer)
    hook = _subscribe(client, receiver.url)
    client.patch(f"/api/v1/webhooks/{hook['id']}/", {"active": False}, format="json")
    client.delete(f"/api/v1/webhooks/{hook['id']}/")

    rows = list(
        Event.objects.filter(kind__startswith="webhook.")
        .order_by("id")
        .values_list("kind", "actor_name", "payload")
    )

    origin = receiver.url.removesuffix("/hook")
    assert [(kind, actor) for kind, actor, _ in rows] == [
        ("webhook.created", deployer.username),
        ("webhook.updated", deployer.username),
        ("webhook.deleted", deployer.username),
    ]
    assert all(p["webhook"] == hook["id"] and p["url"] == origin for *_, p in rows)
    assert rows[1][2]["fields"] == ["active"]
    assert not any(SECRET in str(p) or "/hook" in str(p) for *_, p in rows)


def test_a_new_secret_is_recorded_as_changed_but_not_shown(
    client_for, deployer, receiver
):
    client = client_for(deployer)
    hook = _subscribe(client, receiver.url)

    client.patch(
        f"/api/v1/webhooks/{hook['id']}/",
        {"secret": "another-secret-0123456789"},
        format="json",
    )

    event = Event.objects.get(kind="webhook.updated")
    assert event.payload["fields"] == ["secret"]
    assert "another-secret" not in str(event.payload)


def test_an_update_that_changes_nothing_writes_no_event(client_for, deployer, receiver):
    client = client_for(deployer)
    hook = _subscribe(client, receiver.url)

    client.patch(f"/api/v1/webhooks/{hook['id']}/", {"active": True}, format="json")

    assert not Event.objects.filter(kind="webhook.updated").exists()


def test_webhook_events_are_in_the_event_log(
    client, client_for, deployer, viewer, receiver
):
    _subscribe(client_for(deployer), receiver.url)
    client.force_login(viewer)

    feed = client_for(viewer).get("/api/v1/events/?kind=webhook.created")
    page = client.get("/activity/?kind=webhook.created")

    assert [e["kind"] for e in feed.json()["results"]] == ["webhook.created"]
    assert page.status_code == 200
    assert '<option value="webhook.created" selected>' in page.content.decode()
    assert "<code>webhook.created</code>" in page.content.decode()
