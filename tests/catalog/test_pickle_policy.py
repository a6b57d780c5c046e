"""Issue 10, audit: the pickle policy changes only through a service, as an event."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.models import Event, ModelGroup
from common.errors import Forbidden

pytestmark = pytest.mark.django_db


def test_an_admin_allows_pickle_and_the_change_is_recorded(make_group, admin_user):
    group = make_group("iris")

    services.group_pickle_policy_set(actor=admin_user, group=group, allow=True)
    services.group_pickle_policy_set(actor=admin_user, group=group, allow=True)

    assert ModelGroup.objects.get(pk=group.pk).allow_pickle is True
    (event,) = Event.objects.filter(kind="group.pickle_policy")
    assert event.payload == {"allow_pickle": True}
    assert event.actor_name == admin_user.username


def test_a_contributor_cannot_change_the_pickle_policy(make_group, contributor):
    group = make_group("iris")

    with pytest.raises(Forbidden):
        services.group_pickle_policy_set(actor=contributor, group=group, allow=True)

    assert ModelGroup.objects.get(pk=group.pk).allow_pickle is False
    assert not Event.objects.filter(kind="group.pickle_policy").exists()


def test_the_admin_site_changes_the_pickle_policy_through_the_service(
    make_group, make_user, client
):
    group = make_group("iris")
    admin = make_user("admin", is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.post(
        f"/admin/catalog/modelgroup/{group.pk}/change/",
        {"description": "", "tags": "{}", "allow_pickle": "on"},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert ModelGroup.objects.get(pk=group.pk).allow_pickle is True
    (event,) = Event.objects.filter(kind="group.pickle_policy")
    assert event.actor_name == admin.username
