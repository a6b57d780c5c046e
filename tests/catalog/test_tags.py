"""One tag at a time (issue 11, item 6): set and delete a single key of a group's or a
version's tags, under the row lock, with an event; ``PUT, DELETE .../tags/{key}``."""

from __future__ import annotations

import pytest
from django.db import connection

from approvals.services import review_submit
from catalog import services
from catalog.models import ApprovalStatus, Event, ModelGroup, ModelVersion
from common.errors import Forbidden, Invalid
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db

GROUP_TAGS = "/api/v1/model-groups/iris/tags/"
VERSION_TAGS = "/api/v1/model-groups/iris/versions/1/tags/"


@pytest.fixture
def group(make_group):
    return make_group("iris", tags={"team": "growth", "tier": "1"})


@pytest.fixture
def version(group, make_version):
    return make_version(group, tags={"branch": "main"})


def _events(kind):
    return list(Event.objects.filter(kind=kind).order_by("id"))


# --- services -----------------------------------------------------------------------


def test_setting_a_group_tag_keeps_the_others_and_records_the_tags(group, contributor):
    services.group_tag_set(actor=contributor, group=group, key="tier", value="2")

    group.refresh_from_db()
    assert group.tags == {"team": "growth", "tier": "2"}
    (event,) = _events("group.updated")
    assert event.payload == {"tags": {"team": "growth", "tier": "2"}}
    assert event.actor == contributor


def test_deleting_a_group_tag_keeps_the_others(group, contributor):
    services.group_tag_delete(actor=contributor, group=group, key="team")

    group.refresh_from_db()
    assert group.tags == {"tier": "1"}
    assert _events("group.updated")[0].payload == {"tags": {"tier": "1"}}


def test_repeating_a_tag_change_changes_nothing_more(group, contributor):
    services.group_tag_set(actor=contributor, group=group, key="team", value="growth")
    services.group_tag_delete(actor=contributor, group=group, key="absent")

    group.refresh_from_db()
    assert group.tags == {"team": "growth", "tier": "1"}
    assert _events("group.updated") == []


def test_a_reviewed_versions_tags_still_change_one_by_one(
    version, contributor, reviewer
):
    review_submit(actor=reviewer, version=version, decision="approve")

    services.version_tag_set(actor=contributor, version=version, key="env", value="p")
    services.version_tag_delete(actor=contributor, version=version, key="branch")

    version.refresh_from_db()
    assert version.approval_status == ApprovalStatus.APPROVED
    assert version.tags == {"env": "p"}
    payloads = [e.payload for e in _events("version.updated")]
    assert payloads == [
        {"fields": ["tags"], "tags": {"branch": "main", "env": "p"}},
        {"fields": ["tags"], "tags": {"env": "p"}},
    ]


@pytest.mark.parametrize(
    "key, value",
    [
        ("a:b", "x"),
        ("", "x"),
        ("k" * 129, "x"),
        (7, "x"),
        ("ok", 5),
        ("ok", None),
        ("ok", "v" * 257),
        ("ok", "line\nbreak"),
    ],
)
def test_it_refuses_a_bad_key_or_value_and_changes_nothing(
    group, contributor, key, value
):
    with pytest.raises(Invalid):
        services.group_tag_set(actor=contributor, group=group, key=key, value=value)

    group.refresh_from_db()
    assert group.tags == {"team": "growth", "tier": "1"}
    assert _events("group.updated") == []


def test_it_refuses_a_51st_tag(make_group, contributor):
    group = make_group("full", tags={f"k{i}": "v" for i in range(50)})

    with pytest.raises(Invalid, match="At most 50 tags"):
        services.group_tag_set(actor=contributor, group=group, key="one", value="more")


def test_a_viewer_may_not_change_tags(group, version, viewer):
    with pytest.raises(Forbidden):
        services.group_tag_set(actor=viewer, group=group, key="a", value="b")
    with pytest.raises(Forbidden):
        services.version_tag_delete(actor=viewer, version=version, key="branch")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("model", [ModelGroup, ModelVersion])
def test_concurrent_writers_of_different_keys_all_keep_their_tag(
    model, make_group, make_version, contributor
):
    group = make_group("race", tags={"kept": "yes"})
    version = make_version(group, tags={"kept": "yes"})
    writers = 16 if connection.vendor == "postgresql" else 8

    def setter(key):
        if model is ModelGroup:
            return lambda: services.group_tag_set(
                actor=contributor, group=group, key=key, value="v"
            )
        return lambda: services.version_tag_set(
            actor=contributor, version=version, key=key, value="v"
        )

    errors = run_at_once([setter(f"writer-{i}") for i in range(writers)])

    assert errors == []
    row = group if model is ModelGroup else version
    row.refresh_from_db()
    assert row.tags == {"kept": "yes", **{f"writer-{i}": "v" for i in range(writers)}}


# --- API ------------------------------------------------------------------------------


def test_put_sets_one_group_tag(group, api):
    response = api.put(f"{GROUP_TAGS}owner", {"value": "ana"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"key": "owner", "value": "ana"}
    group.refresh_from_db()
    assert group.tags == {"team": "growth", "tier": "1", "owner": "ana"}


def test_a_tag_key_may_hold_a_slash(group, api):
    response = api.put(f"{GROUP_TAGS}ml/owner", {"value": "ana"}, format="json")

    assert response.status_code == 200, response.content
    group.refresh_from_db()
    assert group.tags["ml/owner"] == "ana"


def test_delete_removes_one_group_tag_and_a_repeat_is_still_204(group, api):
    first = api.delete(f"{GROUP_TAGS}team")
    again = api.delete(f"{GROUP_TAGS}team")

    assert (first.status_code, again.status_code) == (204, 204)
    group.refresh_from_db()
    assert group.tags == {"tier": "1"}


def test_put_and_delete_change_one_version_tag(version, api):
    put = api.put(f"{VERSION_TAGS}env", {"value": "prod"}, format="json")
    deleted = api.delete(f"{VERSION_TAGS}branch")

    assert (put.status_code, deleted.status_code) == (200, 204)
    version.refresh_from_db()
    assert version.tags == {"env": "prod"}


@pytest.mark.parametrize(
    "path, body, field",
    [
        (f"{GROUP_TAGS}owner", {"value": 5}, "tags.owner"),
        (f"{GROUP_TAGS}owner", {}, "tags.owner"),
        (f"{GROUP_TAGS}owner", ["ana"], "tags.owner"),
        (f"{GROUP_TAGS}a:b", {"value": "x"}, "tags"),
        (f"{VERSION_TAGS}{'k' * 129}", {"value": "x"}, "tags"),
    ],
)
def test_put_answers_400_naming_the_field(version, api, path, body, field):
    response = api.put(path, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/model-groups/nope/tags/team",
        "/api/v1/model-groups/iris/versions/9/tags/team",
        "/api/v1/model-groups/nope/versions/1/tags/team",
        f"/api/v1/model-groups/iris/versions/{10**20}/tags/team",
    ],
)
@pytest.mark.parametrize("method", ["put", "delete"])
def test_it_answers_404_for_an_unknown_group_or_version(version, api, path, method):
    response = getattr(api, method)(path, {"value": "x"}, format="json")

    assert response.status_code == 404, response.content


@pytest.mark.parametrize("path", [f"{GROUP_TAGS}team", f"{VERSION_TAGS}branch"])
@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_viewer_is_refused_and_nothing_changes(
    version, client_for, viewer, path, method
):
    response = getattr(client_for(viewer), method)(path, {"value": "x"}, format="json")

    assert response.status_code == 403, response.content
    assert ModelGroup.objects.get().tags == {"team": "growth", "tier": "1"}
    assert ModelVersion.objects.get().tags == {"branch": "main"}


@pytest.mark.parametrize("path", [f"{GROUP_TAGS}team", f"{VERSION_TAGS}branch"])
def test_anonymous_callers_get_401(version, client_for, path):
    response = client_for(None).put(path, {"value": "x"}, format="json")

    assert response.status_code == 401
