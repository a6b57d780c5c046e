"""Access keys for the SageMaker-compatible API (issue 12): issued under the rules of
tokens, the secret shown once and kept encrypted, revoked for good, audited."""

from __future__ import annotations

from accounts import sealing
from accounts.models import AccessKey, AuditEvent
from accounts.services import access_key_authenticate, access_key_issue, token_issue
from tests.accounts.test_token_scopes import token_client


def test_a_signed_in_user_gets_a_key_pair_whose_secret_is_shown_once(
    client_for, contributor
):
    client = client_for(contributor)

    created = client.post(
        "/api/v1/access-keys/",
        {"name": "ci", "scopes": ["read", "write"]},
        format="json",
    )
    listed = client.get("/api/v1/access-keys/")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["access_key_id"].startswith("MRAK") and len(body["access_key_id"]) == 20
    assert len(body["secret_access_key"]) == 40
    assert body["scopes"] == ["read", "write"]
    assert "secret_access_key" not in listed.json()["results"][0]
    assert body["secret_access_key"] not in listed.content.decode()


def test_the_secret_is_stored_encrypted_and_read_back_only_by_the_server(contributor):
    key, secret = access_key_issue(actor=contributor, name="ci")

    stored = AccessKey.objects.get(pk=key.pk).sealed_secret
    assert secret not in stored
    assert sealing.unseal(stored) == secret
    found = access_key_authenticate(key.access_key_id)
    assert (found.user, found.secret) == (contributor, secret)


def test_a_secret_sealed_under_another_encryption_key_no_longer_authenticates(
    contributor, settings
):
    key, _ = access_key_issue(actor=contributor)
    settings.REGISTRY_ACCESS_KEY_ENCRYPTION_KEY = "rotated"

    assert access_key_authenticate(key.access_key_id) is None


def test_a_token_without_the_tokens_scope_cannot_create_keys(contributor):
    _, raw = token_issue(user=contributor, scopes=["read", "write"])

    response = token_client(raw).post("/api/v1/access-keys/", {}, format="json")

    assert response.status_code == 403
    assert not AccessKey.objects.exists()


def test_a_token_cannot_create_a_key_broader_than_itself(contributor):
    _, raw = token_issue(user=contributor, scopes=["read", "tokens"])
    client = token_client(raw)

    broader = client.post("/api/v1/access-keys/", {"scopes": ["write"]}, format="json")
    same = client.post("/api/v1/access-keys/", {"scopes": ["read"]}, format="json")

    assert broader.status_code == 403
    assert same.status_code == 201


def test_revoking_a_key_stops_it_and_is_audited_once(client_for, contributor):
    client = client_for(contributor)
    key, _ = access_key_issue(actor=contributor)

    first = client.post(f"/api/v1/access-keys/{key.pk}/revoke")
    again = client.delete(f"/api/v1/access-keys/{key.pk}/")

    assert first.status_code == 200 and first.json()["active"] is False
    assert again.status_code == 204
    assert access_key_authenticate(key.access_key_id) is None
    kinds = list(AuditEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["access_key.issued", "access_key.revoked"]


def test_issuing_is_audited_without_the_secret(client_for, viewer):
    response = client_for(viewer).post("/api/v1/access-keys/", {}, format="json")

    event = AuditEvent.objects.get()
    assert (event.kind, event.actor, event.via) == ("access_key.issued", viewer, "api")
    assert response.json()["secret_access_key"] not in str(event.payload)


def test_another_users_key_is_invisible(client_for, contributor, viewer):
    key, _ = access_key_issue(actor=contributor)

    response = client_for(viewer).post(f"/api/v1/access-keys/{key.pk}/revoke")

    assert response.status_code == 404
    assert AccessKey.objects.get(pk=key.pk).revoked_at is None


def test_an_admin_may_revoke_anyones_key(client_for, contributor, admin_user):
    key, _ = access_key_issue(actor=contributor)

    response = client_for(admin_user).delete(f"/api/v1/access-keys/{key.pk}/")

    assert response.status_code == 204


def test_a_replayed_create_does_not_show_the_secret_again(client_for, viewer):
    client = client_for(viewer)
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}

    first = client.post("/api/v1/access-keys/", {}, format="json", **headers)
    again = client.post("/api/v1/access-keys/", {}, format="json", **headers)

    assert first.json()["secret_access_key"]
    assert again.json()["secret_access_key"] is None
    assert again.json()["access_key_id"] == first.json()["access_key_id"]
    assert AccessKey.objects.count() == 1


def test_anonymous_requests_are_refused(client):
    assert client.post("/api/v1/access-keys/", {}).status_code in (401, 403)
