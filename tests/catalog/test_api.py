"""The catalog REST API: every endpoint's happy path, refusals and wrong states."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import services
from catalog.models import Alias, Event, Metric, ModelGroup, ModelVersion
from tests import models as real_models
from tests.catalog.helpers import approve, fields_of, files_in
from tests.helpers import query_count, register_payload

GROUPS = "/api/v1/model-groups/"
IRIS = "/api/v1/model-groups/iris/"
VERSIONS = "/api/v1/model-groups/iris/versions/"
ALIASES = "/api/v1/model-groups/iris/aliases/"
EVENTS = "/api/v1/events/"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: Callable[[], Any] | None = None
    format: str = "json"
    write: bool = False

    def call(self, client: APIClient) -> Any:
        data = self.body() if self.body else None
        return getattr(client, self.method)(self.path, data, format=self.format)


ENDPOINTS = {
    "groups-list": Endpoint("get", GROUPS),
    "groups-create": Endpoint("post", GROUPS, lambda: {"name": "new"}, write=True),
    "group-detail": Endpoint("get", IRIS),
    "group-patch": Endpoint("patch", IRIS, lambda: {"description": "x"}, write=True),
    "group-delete": Endpoint("delete", IRIS, write=True),
    "versions-list": Endpoint("get", VERSIONS),
    "versions-register": Endpoint(
        "post", VERSIONS, register_payload, format="multipart", write=True
    ),
    "version-detail": Endpoint("get", f"{VERSIONS}1/"),
    "version-patch": Endpoint(
        "patch", f"{VERSIONS}1/", lambda: {"description": "x"}, write=True
    ),
    "version-delete": Endpoint("delete", f"{VERSIONS}1/", write=True),
    "artifact": Endpoint("get", f"{VERSIONS}1/artifact"),
    "aliases-list": Endpoint("get", ALIASES),
    "alias-get": Endpoint("get", f"{ALIASES}candidate"),
    "alias-latest": Endpoint("get", f"{ALIASES}latest"),
    "alias-put": Endpoint(
        "put", f"{ALIASES}candidate", lambda: {"version": 1}, write=True
    ),
    "alias-delete": Endpoint("delete", f"{ALIASES}candidate", write=True),
    "events-list": Endpoint("get", EVENTS),
}
READS = [name for name, endpoint in ENDPOINTS.items() if not endpoint.write]
WRITES = [name for name, endpoint in ENDPOINTS.items() if endpoint.write]

UNKNOWN = {
    "group-detail": Endpoint("get", "/api/v1/model-groups/nope/"),
    "group-patch": Endpoint(
        "patch", "/api/v1/model-groups/nope/", lambda: {"description": "x"}
    ),
    "group-delete": Endpoint("delete", "/api/v1/model-groups/nope/"),
    "versions-list": Endpoint("get", "/api/v1/model-groups/nope/versions/"),
    "versions-register": Endpoint(
        "post", "/api/v1/model-groups/nope/versions/", register_payload, "multipart"
    ),
    "version-detail": Endpoint("get", f"{VERSIONS}9/"),
    "version-patch": Endpoint("patch", f"{VERSIONS}9/", lambda: {"description": "x"}),
    "version-delete": Endpoint("delete", f"{VERSIONS}9/"),
    "version-number-beyond-64-bits": Endpoint("get", f"{VERSIONS}{10**20}/"),
    "artifact-of-unknown-version": Endpoint("get", f"{VERSIONS}9/artifact"),
    "artifact-of-unknown-group": Endpoint(
        "get", "/api/v1/model-groups/nope/versions/1/artifact"
    ),
    "aliases-list": Endpoint("get", "/api/v1/model-groups/nope/aliases/"),
    "alias-get": Endpoint("get", f"{ALIASES}nope"),
    "alias-get-unknown-group": Endpoint(
        "get", "/api/v1/model-groups/nope/aliases/candidate"
    ),
    "alias-latest-unknown-group": Endpoint(
        "get", "/api/v1/model-groups/nope/aliases/latest"
    ),
    "alias-put-unknown-group": Endpoint(
        "put", "/api/v1/model-groups/nope/aliases/candidate", lambda: {"version": 1}
    ),
    "alias-delete": Endpoint("delete", f"{ALIASES}nope"),
}


@pytest.fixture
def world(make_group: Any, make_version: Any, contributor: Any) -> ModelVersion:
    """Group ``iris`` with version 1, aliased ``candidate``."""
    group = make_group("iris")
    version = make_version(group, metrics={"accuracy": 0.97})
    services.alias_set(
        actor=contributor, group=group, name="candidate", version_number=1
    )
    return version


def snapshot(artifact_root: Any) -> tuple[Any, ...]:
    return (
        list(ModelGroup.objects.values_list("name", "description", "tags")),
        list(ModelVersion.objects.values_list("version", "description")),
        list(Alias.objects.values_list("name", "version_id")),
        Event.objects.count(),
        len(files_in(artifact_root)),
    )


# --- who may call what ----------------------------------------------------------


@pytest.mark.parametrize("name", ENDPOINTS)
def test_it_answers_401_to_anonymous_callers(name, world, client_for):
    response = ENDPOINTS[name].call(client_for(None))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("name", ENDPOINTS)
def test_it_answers_403_to_a_user_without_a_role(name, world, client_for, make_user):
    response = ENDPOINTS[name].call(client_for(make_user()))

    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403


@pytest.mark.parametrize("name", WRITES)
def test_it_refuses_writes_by_a_viewer_and_changes_nothing(
    name, world, client_for, viewer, artifact_root
):
    before = snapshot(artifact_root)

    response = ENDPOINTS[name].call(client_for(viewer))

    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "forbidden"
    assert snapshot(artifact_root) == before


@pytest.mark.parametrize("name", READS)
def test_a_viewer_can_read_every_read_endpoint(name, world, client_for, viewer):
    response = ENDPOINTS[name].call(client_for(viewer))

    assert response.status_code == 200


@pytest.mark.parametrize("name", UNKNOWN)
def test_it_answers_404_for_unknown_objects(name, world, api, artifact_root):
    before = snapshot(artifact_root)

    response = UNKNOWN[name].call(api)

    assert response.status_code == 404, response.content
    assert response.json()["error"]["status"] == 404
    assert snapshot(artifact_root) == before


def test_a_version_is_not_reachable_through_another_group(world, make_group, api):
    make_group("other")

    response = api.get("/api/v1/model-groups/other/versions/1/")

    assert response.status_code == 404


# --- groups -----------------------------------------------------------------------


def test_a_contributor_creates_a_group(api, contributor):
    response = api.post(
        GROUPS,
        {"name": "churn", "description": "who leaves", "tags": {"team": "growth"}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "churn"
    assert body["tags"] == {"team": "growth"}
    assert body["created_by"] == contributor.username
    assert body["version_count"] == 0
    assert ModelGroup.objects.get(name="churn").description == "who leaves"


def test_it_lists_groups_by_name_with_version_counts(world, make_group, api):
    make_group("abalone")

    response = api.get(GROUPS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["name"] for row in rows] == ["abalone", "iris"]
    assert rows[1]["version_count"] == 1
    assert rows[1]["latest_version"] == 1


def test_it_shows_a_group(world, api):
    response = api.get(IRIS)

    assert response.status_code == 200
    assert response.json()["name"] == "iris"
    assert response.json()["url"].rstrip("/") == IRIS.rstrip("/")


def test_it_patches_a_groups_description_and_tags_but_never_its_name(world, api):
    response = api.patch(
        IRIS,
        {"name": "renamed", "description": "flowers", "tags": {"a": "b"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    group = ModelGroup.objects.get(name="iris")
    assert (group.description, group.tags) == ("flowers", {"a": "b"})
    assert not ModelGroup.objects.filter(name="renamed").exists()


def test_allow_pickle_cannot_be_set_through_the_api(api):
    created = api.post(GROUPS, {"name": "iris", "allow_pickle": True}, format="json")
    patched = api.patch(IRIS, {"allow_pickle": True}, format="json")

    assert created.status_code == 201
    assert patched.json()["allow_pickle"] is False
    assert ModelGroup.objects.get().allow_pickle is False


@pytest.mark.parametrize(
    "tags",
    [["a", "b"], {"a": 1}, {"a:b": "c"}, {f"k{i}": "v" for i in range(51)}],
)
def test_it_refuses_bad_group_tags(tags, api):
    response = api.post(GROUPS, {"name": "iris", "tags": tags}, format="json")

    assert response.status_code == 400, response.content
    assert any(name.startswith("tags") for name in fields_of(response))
    assert not ModelGroup.objects.exists()


def test_it_deletes_an_empty_group(make_group, api):
    make_group("empty")

    response = api.delete("/api/v1/model-groups/empty/")

    assert response.status_code == 204
    assert not ModelGroup.objects.filter(name="empty").exists()
    assert Event.objects.filter(kind="group.deleted", group_name="empty").exists()


def test_it_refuses_to_delete_a_group_with_versions(world, api):
    response = api.delete(IRIS)

    assert response.status_code == 409
    assert ModelGroup.objects.filter(name="iris").exists()


@pytest.mark.parametrize("name", ["iris", "IRIS", "Iris", "iRiS"])
def test_it_refuses_a_duplicate_group_name_in_any_case(name, make_group, api):
    make_group("iris")

    response = api.post(GROUPS, {"name": name}, format="json")

    assert response.status_code == 409, response.content
    assert "name" in fields_of(response)
    assert ModelGroup.objects.count() == 1


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 64,
        "a/b",
        "../x",
        " x",
        "x ",
        "x\n",
        "a b",
        "<script>",
        "\uff4d\uff4f\uff44\uff45\uff4c",  # full-width "model"
        "-a",
        "a-",
        "a--b",
    ],
)
def test_it_refuses_a_bad_group_name(name, api):
    response = api.post(GROUPS, {"name": name}, format="json")

    assert response.status_code == 400, response.content
    assert "name" in fields_of(response)
    assert not ModelGroup.objects.exists()


@pytest.mark.parametrize("name", ["a", "a" * 63, "a-b-1", "Churn2"])
def test_it_accepts_a_good_group_name(name, api):
    response = api.post(GROUPS, {"name": name}, format="json")

    assert response.status_code == 201, response.content
    assert ModelGroup.objects.get().name == name


# --- versions ---------------------------------------------------------------------


def test_a_contributor_registers_a_version_with_its_metadata(register, contributor):
    response = register(
        metrics={"accuracy": 0.97},
        hyperparameters={"C": 1.0},
        tags={"stage": "dev"},
        lineage={"commit": "3f2a9c1", "dataset_uri": "s3://d/iris"},
        description="first",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1
    assert body["approval_status"] == "PendingManualApproval"
    assert body["registration_status"] == "Ready"
    assert body["metrics"] == {"accuracy": 0.97}
    assert body["lineage"]["commit"] == "3f2a9c1"
    assert body["created_by"] == contributor.username
    assert body["artifact"]["filename"] == "model.onnx"
    assert body["artifact"]["size"] == len(real_models.iris_onnx())
    assert Metric.objects.get().value == 0.97


def test_it_lists_versions_newest_first(world, make_version, api):
    make_version(world.group)

    response = api.get(VERSIONS)

    assert response.status_code == 200
    assert [row["version"] for row in response.json()["results"]] == [2, 1]


def test_it_shows_a_version_with_its_aliases(world, api):
    response = api.get(f"{VERSIONS}1/")

    assert response.status_code == 200
    assert response.json()["aliases"] == ["candidate"]
    assert response.json()["metrics"] == {"accuracy": 0.97}


def test_it_patches_a_versions_metadata_and_records_the_fields(world, api):
    response = api.patch(
        f"{VERSIONS}1/",
        {"description": "tuned", "tags": {"stage": "prod"}, "metrics": {"auc": 0.9}},
        format="json",
    )

    assert response.status_code == 200, response.content
    world.refresh_from_db()
    assert (world.description, world.tags) == ("tuned", {"stage": "prod"})
    assert dict(world.metric_rows.values_list("name", "value")) == {"auc": 0.9}
    event = Event.objects.filter(kind="version.updated").get()
    assert event.payload == {
        "fields": ["description", "metrics", "tags"],
        "description": "tuned",
        "tags": {"stage": "prod"},
    }


@pytest.mark.parametrize("status", ["Approved", "Rejected"])
def test_it_refuses_to_change_metrics_once_reviewed(status, world, api):
    ModelVersion.objects.filter(pk=world.pk).update(approval_status=status)

    response = api.patch(f"{VERSIONS}1/", {"metrics": {"auc": 0.5}}, format="json")

    assert response.status_code == 409
    assert "metrics" in fields_of(response)
    world.refresh_from_db()
    assert world.metrics == {"accuracy": 0.97}


def test_it_deletes_a_pending_version(world, api):
    response = api.delete(f"{VERSIONS}1/")

    assert response.status_code == 204
    assert not ModelVersion.objects.exists()
    assert not Alias.objects.exists()


def test_it_refuses_to_delete_an_approved_version(world, api):
    approve(world)

    response = api.delete(f"{VERSIONS}1/")

    assert response.status_code == 409
    assert ModelVersion.objects.filter(pk=world.pk).exists()


def test_it_deletes_a_rejected_version(world, api):
    ModelVersion.objects.filter(pk=world.pk).update(approval_status="Rejected")

    response = api.delete(f"{VERSIONS}1/")

    assert response.status_code == 204
    assert not ModelVersion.objects.exists()


def test_version_numbers_are_never_reused_after_a_delete(register, api):
    numbers = [register().json()["version"] for _ in range(3)]
    api.delete(f"{VERSIONS}3/")

    response = register()

    assert numbers == [1, 2, 3]
    assert response.json()["version"] == 4


@pytest.mark.parametrize("status", ["Approved", "Rejected"])
def test_approval_status_sent_on_register_is_ignored(status, register):
    response = register(approval_status=status)

    assert response.status_code == 201
    assert response.json()["approval_status"] == "PendingManualApproval"
    assert ModelVersion.objects.get().approval_status == "PendingManualApproval"


@pytest.mark.parametrize("status", ["Approved", "Rejected"])
def test_approval_status_sent_on_patch_is_ignored(status, world, api):
    response = api.patch(
        f"{VERSIONS}1/", {"approval_status": status, "description": "x"}, format="json"
    )

    assert response.json()["approval_status"] == "PendingManualApproval"
    world.refresh_from_db()
    assert world.approval_status == "PendingManualApproval"


def test_it_accepts_a_matching_sha256(register):
    digest = hashlib.sha256(real_models.iris_onnx()).hexdigest()

    response = register(sha256=digest.upper())

    assert response.status_code == 201, response.content
    assert response.json()["artifact"]["sha256"] == digest


# --- artifacts --------------------------------------------------------------------


def test_it_downloads_the_artifact_with_its_sha256_as_etag(world, api):
    response = api.get(f"{VERSIONS}1/artifact")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == real_models.iris_onnx()
    assert response["ETag"] == f'"{world.artifact_sha256}"'
    assert response["X-Artifact-SHA256"] == world.artifact_sha256
    assert 'filename="iris-v1.onnx"' in response["Content-Disposition"]


def test_it_answers_304_when_the_etag_matches(world, api):
    response = api.get(
        f"{VERSIONS}1/artifact", HTTP_IF_NONE_MATCH=f'"{world.artifact_sha256}"'
    )

    assert response.status_code == 304
    assert response["ETag"] == f'"{world.artifact_sha256}"'
    assert response.content == b""


@pytest.mark.parametrize("form", ['W/"{}"', '"other", "{}"'], ids=["weak", "list"])
def test_it_answers_304_to_weak_and_listed_etags(form, world, api):
    header = form.format(world.artifact_sha256)

    response = api.get(f"{VERSIONS}1/artifact", HTTP_IF_NONE_MATCH=header)

    assert response.status_code == 304


def test_it_sends_the_bytes_again_when_the_etag_differs(world, api):
    response = api.get(f"{VERSIONS}1/artifact", HTTP_IF_NONE_MATCH=f'"{"0" * 64}"')

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == real_models.iris_onnx()


# --- aliases ----------------------------------------------------------------------


def test_it_lists_aliases(world, api):
    response = api.get(ALIASES)

    assert response.status_code == 200
    assert [(a["alias"], a["version"]) for a in response.json()["results"]] == [
        ("candidate", 1)
    ]


def test_it_shows_an_alias(world, api, contributor):
    response = api.get(f"{ALIASES}candidate")

    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert response.json()["updated_by"] == contributor.username


def test_latest_is_the_highest_version(world, make_version, api):
    make_version(world.group)
    make_version(world.group)

    response = api.get(f"{ALIASES}latest")

    assert response.status_code == 200
    assert response.json()["version"] == 3


def test_latest_of_a_group_without_versions_is_404(make_group, api):
    make_group("empty")

    response = api.get("/api/v1/model-groups/empty/aliases/latest")

    assert response.status_code == 404


def test_it_moves_an_alias_to_another_version(world, make_version, api):
    make_version(world.group)

    response = api.put(f"{ALIASES}candidate", {"version": 2}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert Alias.objects.get(name="candidate").version.version == 2
    event = Event.objects.filter(kind="alias.set").first()
    assert event.payload == {"alias": "candidate", "from": 1, "to": 2}


def test_it_creates_an_alias(world, api):
    response = api.put(f"{ALIASES}staging", {"version": 1}, format="json")

    assert response.status_code == 200, response.content
    assert Alias.objects.filter(name="staging").exists()


@pytest.mark.parametrize("name", ["latest", "LATEST", "Latest"])
def test_it_refuses_to_set_the_reserved_latest_alias(name, world, api):
    response = api.put(f"{ALIASES}{name}", {"version": 1}, format="json")

    assert response.status_code == 400
    assert "alias" in fields_of(response)
    assert not Alias.objects.exclude(name="candidate").exists()


@pytest.mark.parametrize(
    "name",
    [
        "a--b",
        "-a",
        "a_b",
        "x" * 64,
    ],
)
def test_it_refuses_a_bad_alias_name(name, world, api):
    response = api.put(f"{ALIASES}{name}", {"version": 1}, format="json")

    assert response.status_code == 400
    assert "alias" in fields_of(response)


def test_it_refuses_an_alias_to_an_unknown_version(world, api):
    response = api.put(f"{ALIASES}staging", {"version": 9}, format="json")

    assert response.status_code == 400
    assert "version" in fields_of(response)
    assert not Alias.objects.filter(name="staging").exists()


def test_it_deletes_an_alias(world, api):
    response = api.delete(f"{ALIASES}candidate")

    assert response.status_code == 204
    assert not Alias.objects.exists()
    assert Event.objects.filter(kind="alias.deleted").exists()


# --- constant query counts ----------------------------------------------------------


def _count_list_queries(api: APIClient, path: str) -> int:
    def fetch() -> None:
        assert api.get(path, {"page_size": 100}).status_code == 200

    fetch()  # warm caches (content types, the user's roles)
    return query_count(fetch)


def test_the_groups_list_uses_a_constant_number_of_queries(make_group, api):
    for index in range(3):
        make_group(f"g{index}", tags={"team": "a"})
    few = _count_list_queries(api, GROUPS)
    for index in range(3, 30):
        make_group(f"g{index}", tags={"team": "a"})

    assert _count_list_queries(api, GROUPS) == few


def _versions_with_aliases(group: Any, make_version: Any, start: int, end: int) -> None:
    for number in range(start, end):
        version = make_version(group, metrics={"accuracy": 0.5, "auc": 0.6})
        services.alias_set(
            actor=version.created_by,
            group=group,
            name=f"a{number}",
            version_number=version.version,
        )


def test_the_versions_list_uses_a_constant_number_of_queries(
    make_group, make_version, api
):
    group = make_group("iris")
    _versions_with_aliases(group, make_version, 0, 3)
    few = _count_list_queries(api, VERSIONS)
    _versions_with_aliases(group, make_version, 3, 30)

    assert _count_list_queries(api, VERSIONS) == few


def test_the_aliases_list_uses_a_constant_number_of_queries(
    make_group, make_version, api
):
    group = make_group("iris")
    _versions_with_aliases(group, make_version, 0, 3)
    few = _count_list_queries(api, ALIASES)
    _versions_with_aliases(group, make_version, 3, 30)

    assert _count_list_queries(api, ALIASES) == few


def test_the_events_list_uses_a_constant_number_of_queries(
    make_group, make_version, api
):
    group = make_group("iris")
    for _ in range(3):
        make_version(group)
    few = _count_list_queries(api, EVENTS)
    for _ in range(27):
        make_version(group)

    assert Event.objects.count() >= 30
    assert _count_list_queries(api, EVENTS) == few
