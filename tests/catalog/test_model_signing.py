"""Issue 15: OpenSSF model signing (``model-signing``) on upload, verified against the
keys a group trusts; a group can require it.

Real elliptic-curve keys made here, a real scikit-learn ONNX model, signatures made
with the real ``model_signing`` library (offline: the key method, no Sigstore).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog import services
from catalog.models import Event, ModelGroup, ModelVersion, TrustedSigningKey
from common.errors import Forbidden, Invalid
from tests.catalog.helpers import fields_of, files_in
from tests.models import iris_onnx
from tests.signatures import make_key, sign

pytestmark = pytest.mark.django_db


def upload(client: Any, model: bytes, bundle: bytes | None = None) -> Any:
    body: dict[str, Any] = {
        "artifact": SimpleUploadedFile("model.onnx", model),
        "description": "signed",
    }
    if bundle is not None:
        body["model_signature"] = SimpleUploadedFile("model.sig", bundle)
    return client.post("/api/v1/model-groups/iris/versions/", body, format="multipart")


@pytest.fixture
def admin_api(client_for: Any, admin_user: Any) -> Any:
    return client_for(admin_user)


@pytest.fixture
def trusted(tmp_path: Path, admin_api: Any, group: dict[str, Any]) -> Path:
    """The private key of the group's one trusted key, "ci-release"."""
    key_path, public = make_key(tmp_path, "trusted")
    response = admin_api.post(
        "/api/v1/model-groups/iris/trusted-keys/",
        {"name": "ci-release", "public_key_pem": public},
        format="json",
    )
    assert response.status_code == 201, response.content
    return key_path


def require(admin_api: Any, value: bool = True) -> None:
    response = admin_api.patch(
        "/api/v1/model-groups/iris/",
        {"require_model_signature": value},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["require_model_signature"] is value


def test_a_signature_from_a_trusted_key_is_verified_and_shown(
    tmp_path, api, trusted, admin_user
):
    model = iris_onnx()

    response = upload(api, model, sign(tmp_path, model, trusted))

    assert response.status_code == 201, response.content
    assert response.json()["signature"] == {"status": "verified", "key": "ci-release"}
    version = ModelVersion.objects.get(group__name="iris", version=1)
    assert version.signature_bundle["dsseEnvelope"]
    event = Event.objects.get(kind="version.registered")
    assert event.payload["signature"] == "verified"
    page = Client()
    page.force_login(admin_user)
    html = page.get("/models/iris/versions/1/").content.decode()
    assert "Signed (model-signing)" in html and "ci-release" in html


def test_an_untrusted_key_is_refused_where_the_group_requires_signatures(
    tmp_path, api, admin_api, trusted, artifact_root
):
    require(admin_api)
    stranger, _ = make_key(tmp_path, "stranger")
    model = iris_onnx()

    response = upload(api, model, sign(tmp_path, model, stranger))

    assert response.status_code == 400, response.content
    assert "model_signature" in fields_of(response)
    assert not ModelVersion.objects.exists()
    assert files_in(artifact_root) == []
    assert ModelGroup.objects.get(name="iris").next_version == 1
    # The trusted key's signature passes the same requirement.
    response = upload(api, model, sign(tmp_path, model, trusted))
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 1


def test_an_untrusted_key_is_recorded_where_signatures_are_optional(
    tmp_path, api, trusted, admin_user
):
    stranger, _ = make_key(tmp_path, "stranger")
    model = iris_onnx()

    response = upload(api, model, sign(tmp_path, model, stranger))

    assert response.status_code == 201, response.content
    assert response.json()["signature"] == {"status": "untrusted", "key": ""}
    page = Client()
    page.force_login(admin_user)
    html = page.get("/models/iris/versions/1/").content.decode()
    assert "Signature not from a trusted key" in html


def test_a_signature_over_other_bytes_is_invalid(tmp_path, api, admin_api, trusted):
    model = iris_onnx()
    tampered = model[:-1] + bytes([model[-1] ^ 1])
    bundle = sign(tmp_path, tampered, trusted)

    response = upload(api, model, bundle)
    assert response.status_code == 201, response.content
    assert response.json()["signature"] == {"status": "invalid", "key": "ci-release"}

    require(admin_api)
    response = upload(api, model, bundle)
    assert response.status_code == 400, response.content
    assert "model_signature" in fields_of(response)
    assert ModelVersion.objects.count() == 1


def test_a_group_that_requires_signatures_refuses_an_unsigned_upload(
    api, admin_api, trusted
):
    require(admin_api)

    response = upload(api, iris_onnx())

    assert response.status_code == 400, response.content
    assert "model_signature" in fields_of(response)
    assert not ModelVersion.objects.exists()


def test_a_malformed_bundle_is_recorded_invalid(tmp_path, api, trusted):
    response = upload(api, iris_onnx(), b'{"dsseEnvelope": {"payload": 3}}')

    assert response.status_code == 201, response.content
    assert response.json()["signature"]["status"] == "invalid"


def test_an_unsigned_upload_is_recorded_as_absent(api, group):
    response = upload(api, iris_onnx())

    assert response.status_code == 201, response.content
    assert response.json()["signature"] == {"status": "absent", "key": ""}


@pytest.mark.parametrize(
    "bundle",
    [
        b"not json at all",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"mediaType": "x"}',
        b'{"dsseEnvelope": NaN}',
        b'{"dsseEnvelope": "\\u0000"}',
    ],
    ids=["text", "binary", "list", "no-envelope", "nan", "nul"],
)
def test_a_file_that_is_not_a_bundle_is_a_400(api, group, bundle):
    response = upload(api, iris_onnx(), bundle)

    assert response.status_code == 400, response.content
    assert "model_signature" in fields_of(response)
    assert not ModelVersion.objects.exists()


def test_only_admins_change_trusted_keys_and_the_policy(
    tmp_path, api, client_for, viewer, admin_user, admin_api, trusted
):
    _, public = make_key(tmp_path, "other")
    body = {"name": "other", "public_key_pem": public}

    assert api.post("/api/v1/model-groups/iris/trusted-keys/", body).status_code == 403
    listed = client_for(viewer).get("/api/v1/model-groups/iris/trusted-keys/")
    assert listed.status_code == 200
    (key,) = listed.json()
    assert key["name"] == "ci-release" and key["added_by"] == admin_user.username
    assert (
        api.delete(f"/api/v1/model-groups/iris/trusted-keys/{key['id']}").status_code
        == 403
    )
    response = api.patch(
        "/api/v1/model-groups/iris/", {"require_model_signature": True}, format="json"
    )
    assert response.status_code == 403
    assert ModelGroup.objects.get(name="iris").require_model_signature is False

    deleted = admin_api.delete(f"/api/v1/model-groups/iris/trusted-keys/{key['id']}")
    assert deleted.status_code == 204
    assert not TrustedSigningKey.objects.exists()
    kinds = list(
        Event.objects.filter(kind__startswith="group.trusted_key")
        .values_list("kind", flat=True)
        .order_by("id")
    )
    assert kinds == ["group.trusted_key_added", "group.trusted_key_removed"]


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode(),
    ],
    ids=["empty", "text", "garbage", "ed25519"],
)
def test_a_bad_public_key_is_a_400_naming_the_field(admin_api, group, pem):
    response = admin_api.post(
        "/api/v1/model-groups/iris/trusted-keys/",
        {"name": "bad", "public_key_pem": pem},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "public_key_pem" in fields_of(response)
    assert not TrustedSigningKey.objects.exists()


def test_the_service_checks_the_role(tmp_path, make_group, contributor, admin_user):
    group = make_group("iris")
    _, public = make_key(tmp_path, "k")

    with pytest.raises(Forbidden):
        services.trusted_key_add(
            actor=contributor, group=group, name="k", public_key_pem=public
        )
    with pytest.raises(Forbidden):
        services.group_signature_policy_set(
            actor=contributor, group=group, require=True
        )
    with pytest.raises(Invalid):
        services.group_signature_policy_set(
            actor=admin_user, group=group, require="yes"
        )


def test_unsigned_faces_cannot_add_to_a_group_that_requires_signatures(
    make_group, admin_user, contributor
):
    group = make_group("iris")
    services.group_signature_policy_set(actor=admin_user, group=group, require=True)

    with pytest.raises(Invalid) as refused:
        services.version_register_without_artifact(actor=contributor, group=group)

    assert "model_signature" in refused.value.fields
    assert not ModelVersion.objects.exists()


def test_a_key_is_trusted_once_per_group(tmp_path, admin_api, trusted):
    _, public = make_key(tmp_path, "again")
    url = "/api/v1/model-groups/iris/trusted-keys/"

    same_name = admin_api.post(
        url, {"name": "ci-release", "public_key_pem": public}, format="json"
    )
    first = admin_api.get(url).json()[0]
    same_key = admin_api.post(
        url, {"name": "other", "public_key_pem": first["public_key_pem"]}, format="json"
    )

    assert same_name.status_code == 409 and "name" in fields_of(same_name)
    assert same_key.status_code == 409 and "public_key_pem" in fields_of(same_key)
    assert TrustedSigningKey.objects.count() == 1


def test_the_refusal_says_why(tmp_path, api, admin_api, trusted):
    require(admin_api)
    stranger, _ = make_key(tmp_path, "stranger")
    model = iris_onnx()

    response = upload(api, model, sign(tmp_path, model, stranger))

    assert fields_of(response)["model_signature"] == [
        "This group requires a signature from a trusted key: not from a trusted key."
    ]
