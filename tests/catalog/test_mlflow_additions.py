"""Issue 17: what the MLflow face needs of the catalog: rename, protected aliases,
stages and versions recorded without their files."""

from __future__ import annotations

from typing import Any

import pytest

from catalog import selectors, services
from catalog.models import Event, EventKind, ModelGroup, Stage
from common.errors import Conflict, Forbidden, Invalid, NotFound
from tests.catalog.helpers import approve

pytestmark = pytest.mark.django_db


@pytest.fixture
def iris(make_group: Any) -> ModelGroup:
    return make_group("iris")


def absent(group: ModelGroup, actor: Any, **fields: Any) -> Any:
    return services.version_register_without_artifact(
        actor=actor, group=group, source_uri="s3://b/iris", **fields
    )


def test_rename_keeps_versions_and_frees_the_old_name(iris, contributor):
    absent(iris, contributor)

    services.group_rename(actor=contributor, group=iris, new_name="flowers")

    assert selectors.version_get("flowers", 1).group == iris
    with pytest.raises(NotFound):
        selectors.group_get("iris")
    event = Event.objects.get(kind=EventKind.GROUP_RENAMED)
    assert (event.group_name, event.payload) == (
        "flowers",
        {"from": "iris", "to": "flowers"},
    )


def test_rename_to_a_taken_name_is_a_conflict(iris, make_group, contributor):
    make_group("wine")

    with pytest.raises(Conflict):
        services.group_rename(actor=contributor, group=iris, new_name="WINE")


def test_rename_to_a_bad_name_names_the_field(iris, contributor):
    with pytest.raises(Invalid) as refused:
        services.group_rename(actor=contributor, group=iris, new_name="bad name")

    assert "new_name" in refused.value.fields


def test_rename_needs_the_contributor_role(iris, viewer):
    with pytest.raises(Forbidden):
        services.group_rename(actor=viewer, group=iris, new_name="flowers")


def test_new_groups_protect_champion_and_production(iris):
    assert sorted(iris.protected_aliases) == ["champion", "production"]


@pytest.mark.parametrize("alias", ["champion", "Production"])
def test_a_protected_alias_needs_an_approved_version(iris, contributor, alias):
    version = absent(iris, contributor)

    with pytest.raises(Forbidden):
        services.alias_set(actor=contributor, group=iris, name=alias, version_number=1)
    approve(version)
    services.alias_set(actor=contributor, group=iris, name=alias, version_number=1)

    assert selectors.alias_get(iris, alias).version == version


def test_admins_edit_the_protected_aliases(iris, admin_user, contributor):
    absent(iris, contributor)

    services.group_protected_aliases_set(
        actor=admin_user, group=iris, names=["gold", "gold"]
    )
    iris.refresh_from_db()
    services.alias_set(actor=contributor, group=iris, name="champion", version_number=1)

    assert iris.protected_aliases == ["gold"]
    with pytest.raises(Forbidden):
        services.alias_set(actor=contributor, group=iris, name="gold", version_number=1)
    assert Event.objects.filter(kind=EventKind.GROUP_PROTECTED_ALIASES).count() == 1


def test_only_admins_edit_the_protected_aliases(iris, contributor):
    with pytest.raises(Forbidden):
        services.group_protected_aliases_set(actor=contributor, group=iris, names=[])


@pytest.mark.parametrize("names", ["champion", [1], ["bad name"], ["latest"]])
def test_protected_aliases_are_checked(iris, admin_user, names):
    with pytest.raises(Invalid):
        services.group_protected_aliases_set(actor=admin_user, group=iris, names=names)


def test_the_api_edits_the_protected_aliases(client_for, admin_user, iris):
    response = client_for(admin_user).patch(
        "/api/v1/model-groups/iris/",
        {"protected_aliases": ["gold"], "description": "x"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["protected_aliases"] == ["gold"]
    assert response.json()["description"] == "x"


def test_the_api_refuses_protected_aliases_from_a_contributor(
    client_for, contributor, iris
):
    response = client_for(contributor).patch(
        "/api/v1/model-groups/iris/", {"protected_aliases": []}, format="json"
    )

    assert response.status_code == 403


def test_stages_staging_and_production_need_approval(iris, contributor):
    version = absent(iris, contributor)

    with pytest.raises(Forbidden):
        services.version_stage_set(actor=contributor, version=version, stage="Staging")
    services.version_stage_set(actor=contributor, version=version, stage="archived")

    version.refresh_from_db()
    assert version.stage == Stage.ARCHIVED


def test_archive_existing_versions_archives_the_others_in_that_stage(iris, contributor):
    first, second = absent(iris, contributor), absent(iris, contributor)
    approve(first)
    approve(second)
    services.version_stage_set(actor=contributor, version=first, stage="Production")

    services.version_stage_set(
        actor=contributor,
        version=second,
        stage="Production",
        archive_existing_versions=True,
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, second.stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    moves = Event.objects.filter(kind=EventKind.VERSION_STAGE).order_by("id")
    assert [(e.version_number, e.payload) for e in moves] == [
        (1, {"from": "None", "to": "Production"}),
        (1, {"from": "Production", "to": "Archived"}),
        (2, {"from": "None", "to": "Production"}),
    ]


def test_an_unknown_stage_is_refused(iris, contributor):
    version = absent(iris, contributor)

    with pytest.raises(Invalid):
        services.version_stage_set(actor=contributor, version=version, stage="Live")


def test_a_version_without_files_is_numbered_and_marked(iris, contributor):
    version = absent(iris, contributor, run_id="r1", tags={"k": "v"})

    assert (version.version, version.artifact_absent) == (1, True)
    assert (version.source_uri, version.run_id, version.tags) == (
        "s3://b/iris",
        "r1",
        {"k": "v"},
    )
    event = Event.objects.get(kind=EventKind.VERSION_REGISTERED)
    assert event.payload["artifact_absent"] is True


def test_a_version_without_files_has_nothing_to_download(client_for, contributor, iris):
    absent(iris, contributor)

    response = client_for(contributor).get(
        "/api/v1/model-groups/iris/versions/1/artifact"
    )

    assert response.status_code == 404
    assert "recorded without a model file" in response.json()["error"]["message"]


def test_deleting_a_version_without_files_works(iris, contributor):
    version = absent(iris, contributor)

    services.version_delete(actor=contributor, version=version)

    assert not iris.versions.exists()
