"""Catalog services called directly: numbering, storage, roles and idempotence."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from catalog import services
from catalog.models import Alias, Event, ModelGroup, ModelVersion
from common.errors import Conflict, Forbidden, Invalid
from tests import models as real_models
from tests.catalog.helpers import approve, files_in


def test_a_viewer_cannot_create_a_group(viewer):
    with pytest.raises(Forbidden):
        services.group_create(actor=viewer, name="iris")

    assert not ModelGroup.objects.exists()


def test_an_admin_holds_every_role(admin_user):
    group = services.group_create(actor=admin_user, name="iris")

    assert group.created_by == admin_user


def test_registering_takes_the_groups_next_number(make_group, make_version):
    group = make_group("iris")

    numbers = [make_version(group).version for _ in range(3)]

    group.refresh_from_db()
    assert numbers == [1, 2, 3]
    assert group.next_version == 4


def test_numbers_are_counted_per_group(make_group, make_version):
    first, second = make_group("a"), make_group("b")
    make_version(first)
    make_version(first)

    assert make_version(second).version == 1


def test_deleting_the_highest_version_does_not_free_its_number(
    make_group, make_version, contributor
):
    group = make_group("iris")
    for _ in range(3):
        make_version(group)
    services.version_delete(
        actor=contributor, version=ModelVersion.objects.get(version=3)
    )

    assert make_version(group).version == 4


def test_a_refused_registration_does_not_move_the_counter(
    make_group, make_version, artifact_root
):
    group = make_group("iris")

    with pytest.raises(Invalid) as refused:
        make_version(group, sha256="0" * 64)

    group.refresh_from_db()
    assert "sha256" in refused.value.fields
    assert group.next_version == 1
    assert files_in(artifact_root) == []


@pytest.mark.parametrize(
    ("filename", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\x.onnx", "..\\x.onnx"),
        ("/etc/cron.d/evil", "evil"),
    ],
)
def test_the_client_file_name_is_text_and_the_key_is_server_made(
    filename, kept, make_group, make_version, artifact_root
):
    group = make_group("iris")

    version = make_version(group, filename=filename)

    assert version.artifact_filename == kept
    assert version.artifact_key.startswith(f"groups/{group.pk}/")
    assert ".." not in version.artifact_key
    assert files_in(artifact_root) == [artifact_root / version.artifact_key]


def test_the_stored_file_holds_the_uploaded_bytes(
    make_group, make_version, artifact_root
):
    version = make_version(make_group("iris"))

    stored = (artifact_root / version.artifact_key).read_bytes()

    assert stored == real_models.iris_onnx()
    assert version.artifact_size == len(stored)


def test_deleting_a_version_removes_its_file_after_commit(
    make_group,
    make_version,
    contributor,
    artifact_root,
    django_capture_on_commit_callbacks,
):
    version = make_version(make_group("iris"))

    with django_capture_on_commit_callbacks(execute=True):
        services.version_delete(actor=contributor, version=version)

    assert files_in(artifact_root) == []


def test_an_approved_version_cannot_be_deleted(make_group, make_version, contributor):
    version = make_version(make_group("iris"))
    approve(version)

    with pytest.raises(Conflict):
        services.version_delete(actor=contributor, version=version)

    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_deleting_a_deleted_version_is_a_no_op(make_group, make_version, contributor):
    version = make_version(make_group("iris"))
    services.version_delete(actor=contributor, version=version)

    services.version_delete(actor=contributor, version=version)

    assert Event.objects.filter(kind="version.deleted").count() == 1


def test_a_group_with_versions_cannot_be_deleted(make_group, make_version, contributor):
    group = make_group("iris")
    make_version(group)

    with pytest.raises(Conflict):
        services.group_delete(actor=contributor, group=group)

    assert ModelGroup.objects.filter(pk=group.pk).exists()


def test_an_update_that_changes_nothing_writes_no_event(
    make_group, make_version, contributor
):
    version = make_version(make_group("iris"), description="same")

    services.version_update(actor=contributor, version=version, description="same")

    assert not Event.objects.filter(kind="version.updated").exists()


def test_an_update_refuses_fields_it_cannot_set(make_group, make_version, contributor):
    version = make_version(make_group("iris"))

    with pytest.raises(Invalid) as refused:
        services.version_update(
            actor=contributor, version=version, approval_status="Approved"
        )

    assert "approval_status" in refused.value.fields
    version.refresh_from_db()
    assert version.approval_status == "PendingManualApproval"


def test_an_approved_versions_description_can_still_change(
    make_group, make_version, contributor
):
    version = make_version(make_group("iris"))
    approve(version)
    version.refresh_from_db()

    services.version_update(actor=contributor, version=version, description="notes")

    version.refresh_from_db()
    assert version.description == "notes"


def test_setting_an_alias_to_its_current_version_is_a_no_op(
    make_group, make_version, contributor
):
    group = make_group("iris")
    make_version(group)
    services.alias_set(actor=contributor, group=group, name="prod", version_number=1)

    services.alias_set(actor=contributor, group=group, name="prod", version_number=1)

    assert Event.objects.filter(kind="alias.set").count() == 1


@pytest.mark.parametrize("number", ["1", 1.0, True, None])
def test_an_alias_needs_an_integer_version(
    number, make_group, make_version, contributor
):
    group = make_group("iris")
    make_version(group)

    with pytest.raises(Invalid) as refused:
        services.alias_set(
            actor=contributor, group=group, name="prod", version_number=number
        )

    assert "version" in refused.value.fields
    assert not Alias.objects.exists()


def test_deleting_a_missing_alias_is_a_no_op(make_group, contributor):
    group = make_group("iris")

    services.alias_delete(actor=contributor, group=group, name="nope")

    assert not Event.objects.filter(kind="alias.deleted").exists()


def test_latest_follows_the_highest_remaining_version(
    make_group, make_version, contributor
):
    group = make_group("iris")
    make_version(group)
    highest = make_version(group)
    services.version_delete(actor=contributor, version=highest)

    assert services.version_by_alias(group, "latest").version == 1


def test_deleting_a_version_drops_its_aliases(make_group, make_version, contributor):
    group = make_group("iris")
    version = make_version(group)
    services.alias_set(actor=contributor, group=group, name="prod", version_number=1)

    services.version_delete(actor=contributor, version=version)

    assert not Alias.objects.exists()


def test_register_refuses_a_missing_artifact(make_group, contributor):
    group = make_group("iris")

    with pytest.raises(Invalid) as refused:
        services.version_register(actor=contributor, group=group, artifact=None)

    assert "artifact" in refused.value.fields


def test_register_hashes_a_file_object_it_is_given(make_group, contributor):
    group = make_group("iris")
    artifact = ContentFile(real_models.iris_skops(), name="model.skops")

    version = services.version_register(
        actor=contributor, group=group, artifact=artifact
    )

    assert version.artifact_format == "skops"
    assert version.artifact_size == len(real_models.iris_skops())
