"""Security-relevant changes leave append-only audit events (issue 10, hardening)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.models import ApiToken, AuditEvent
from accounts.roles import roles_of
from accounts.services import token_issue, token_revoke, user_roles_set
from tests.accounts.test_token_scopes import token_client


def kinds() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("kind", flat=True))


def test_issuing_a_token_on_the_api_is_audited(client_for, viewer):
    response = client_for(viewer).post(
        "/api/v1/tokens/", {"name": "ci", "scopes": ["read"]}, format="json"
    )

    event = AuditEvent.objects.get()
    assert event.kind == "token.issued"
    assert (event.actor, event.subject, event.via) == (viewer, viewer, "api")
    assert event.payload["prefix"] == response.json()["prefix"]
    assert event.payload["scopes"] == ["read"]
    assert response.json()["key"] not in str(event.payload)


def test_a_token_issued_by_a_token_names_that_token(viewer):
    parent, key = token_issue(user=viewer, scopes=["read", "tokens"])

    token_client(key).post("/api/v1/tokens/", {"scopes": ["read"]}, format="json")

    assert AuditEvent.objects.latest("id").payload["token"] == parent.prefix


def test_revoking_is_audited_once(client_for, viewer):
    token, _ = token_issue(user=viewer)
    client = client_for(viewer)

    client.post(f"/api/v1/tokens/{token.pk}/revoke")
    client.post(f"/api/v1/tokens/{token.pk}/revoke")

    assert kinds() == ["token.issued", "token.revoked"]
    assert AuditEvent.objects.latest("id").payload["token_id"] == token.pk


def test_the_tokens_page_is_audited(client, viewer):
    client.force_login(viewer)
    client.post("/account/tokens/", {"name": "ci"})
    token = ApiToken.objects.get()
    client.post(f"/account/tokens/{token.pk}/revoke/", {"confirm": "1"})

    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.kind, e.via, e.actor) for e in events] == [
        ("token.issued", "page", viewer),
        ("token.revoked", "page", viewer),
    ]


def test_creating_a_service_account_is_audited(client_for, admin_user):
    client_for(admin_user).post(
        "/api/v1/service-accounts/",
        {"username": "ci-bot", "roles": ["contributor"]},
        format="json",
    )

    event = AuditEvent.objects.get()
    assert event.kind == "service_account.created"
    assert (event.actor_name, event.subject_name) == (admin_user.username, "ci-bot")
    assert event.payload["roles"] == ["contributor"]


def test_set_roles_is_audited_with_before_and_after(make_user):
    user = make_user("viewer", username="ann")
    user.groups.add(Group.objects.create(name="team-a"))

    call_command("set_roles", "ann", "reviewer", "contributor", stdout=None)

    event = AuditEvent.objects.get()
    assert event.kind == "user.roles_changed"
    assert event.via == "command"
    assert event.payload == {"from": ["viewer"], "to": ["contributor", "reviewer"]}
    assert set(user.groups.values_list("name", flat=True)) == {
        "team-a",
        "contributor",
        "reviewer",
    }


def test_setting_the_same_roles_again_is_not_an_event(make_user, admin_user):
    user = make_user("viewer")

    user_roles_set(actor=admin_user, user=user, roles=["viewer"], via="command")

    assert not AuditEvent.objects.exists()


def test_only_admins_change_roles(make_user, reviewer):
    from common.errors import Forbidden

    user = make_user("viewer")

    with pytest.raises(Forbidden):
        user_roles_set(actor=reviewer, user=user, roles=["admin"], via="api")
    assert roles_of(user) == {"viewer"}


def test_audit_events_are_append_only(viewer):
    token, _ = token_issue(user=viewer)
    token_revoke(token=token)
    event = AuditEvent.objects.first()

    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(via="x")


# --- The admin ----------------------------------------------------------------------


@pytest.fixture
def staff_admin(make_user):
    return make_user("admin", is_staff=True, is_superuser=True)


def _user_form(user, **changes):
    data = {
        "username": user.username,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "groups": [g.pk for g in user.groups.all()],
    }
    data.update(changes)
    return data


def test_changing_groups_in_the_admin_is_audited(client, staff_admin, make_user):
    user = make_user("viewer")
    deployer = Group.objects.get_or_create(name="deployer")[0]
    viewer_group = Group.objects.get(name="viewer")
    client.force_login(staff_admin)

    response = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        _user_form(user, groups=[viewer_group.pk, deployer.pk]),
    )

    assert response.status_code == 302, response.content
    event = AuditEvent.objects.get()
    assert (event.kind, event.via, event.actor) == (
        "user.roles_changed",
        "admin",
        staff_admin,
    )
    assert event.payload == {"from": ["viewer"], "to": ["deployer", "viewer"]}
    assert set(user.groups.values_list("name", flat=True)) == {"viewer", "deployer"}


def test_making_a_superuser_in_the_admin_is_audited(client, staff_admin, make_user):
    user = make_user("viewer")
    client.force_login(staff_admin)

    response = client.post(
        f"/admin/auth/user/{user.pk}/change/", _user_form(user, is_superuser="on")
    )

    assert response.status_code == 302

    user.refresh_from_db()
    assert user.is_superuser
    assert AuditEvent.objects.get().payload["superuser"] is True


def test_staff_without_the_admin_role_cannot_give_roles(client, make_user):
    from django.contrib.auth.models import Permission

    staff = make_user("viewer", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_user"))
    user = make_user("viewer")
    admin_group = Group.objects.get_or_create(name="admin")[0]
    client.force_login(staff)

    response = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        _user_form(user, groups=[admin_group.pk], is_superuser="on", last_name="B"),
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.last_name == "B"  # the rest of the form was saved
    assert roles_of(user) == {"viewer"}
    assert not user.is_superuser


def test_a_role_group_cannot_be_renamed_in_the_admin(client, staff_admin):
    team = Group.objects.create(name="team-a")
    client.force_login(staff_admin)

    response = client.post(
        f"/admin/auth/group/{team.pk}/change/", {"name": "admin", "permissions": []}
    )

    assert response.status_code == 200  # the form again, with the error
    assert b"Role groups cannot be renamed" in response.content
    team.refresh_from_db()
    assert team.name == "team-a"


def test_tokens_are_revoked_in_the_admin_through_the_service(
    client, staff_admin, viewer
):
    token, _ = token_issue(user=viewer)
    client.force_login(staff_admin)

    client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.latest("id").via == "admin"


def test_the_audit_trail_is_read_only_in_the_admin(client, staff_admin, viewer):
    token_issue(user=viewer)
    event = AuditEvent.objects.get()
    client.force_login(staff_admin)

    assert client.get("/admin/accounts/auditevent/").status_code == 200
    assert (
        client.get(f"/admin/accounts/auditevent/{event.pk}/change/").status_code == 200
    )
    client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_create_token_takes_scopes_and_is_audited(viewer):
    from io import StringIO

    out = StringIO()
    call_command("create_token", viewer.username, "--scopes", "read,tokens", stdout=out)

    token = ApiToken.objects.get()
    assert token.scopes == ["read", "tokens"]
    assert token.prefix == out.getvalue().strip()[:10]
    event = AuditEvent.objects.get()
    assert (event.kind, event.via, event.actor) == ("token.issued", "command", None)


def test_create_token_refuses_an_unknown_scope(viewer):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="scopes"):
        call_command("create_token", viewer.username, "--scopes", "root")
