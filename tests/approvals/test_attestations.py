"""Issue 15: an approval writes a signed attestation (in-toto Statement v1 in a DSSE
envelope) that ``modelreg verify`` checks offline; a revocation writes a signed
revocation; rotated keys stay published."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone

from approvals import services
from approvals.models import Review
from catalog import attestations
from catalog import services as catalog_services
from catalog.models import (
    ApprovalStatus,
    Attestation,
    Event,
    ModelVersion,
    SigningKey,
)
from common import attestation as signing
from tests import models as real_models
from tests.approvals.helpers import approve, reject, resubmit
from tests.cli.helpers import MODELREG

pytestmark = pytest.mark.django_db


def url(version: ModelVersion, tail: str = "attestation") -> str:
    return (
        f"/api/v1/model-groups/{version.group.name}/versions/{version.version}/{tail}"
    )


def approvers(version: ModelVersion) -> list[str]:
    return list(
        Review.objects.filter(version=version, decision="approve")
        .order_by("id")
        .values_list("reviewer_name", flat=True)
    )


def statement_of(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(envelope["payload"]))


@pytest.fixture
def files(tmp_path: Path) -> Callable[..., dict[str, Path]]:
    """Write what an offline verifier holds: the artifact, the attestation answer,
    the registry's public key and (optionally) the revocation list."""

    def write(
        version: ModelVersion,
        client: Any,
        *,
        artifact: bytes | None = None,
        envelope: dict[str, Any] | None = None,
        keyid: str | None = None,
    ) -> dict[str, Path]:
        answer = client.get(url(version))
        assert answer.status_code == 200, answer.content
        keys = client.get("/api/v1/signing-keys/").json()
        wanted = keyid or answer.json()["signatures"][0]["keyid"]
        (pem,) = [k["public_key_pem"] for k in keys if k["keyid"] == wanted]
        out = {
            "artifact": tmp_path / f"v{version.version}.onnx",
            "attestation": tmp_path / f"v{version.version}.attestation.json",
            "key": tmp_path / f"{wanted[:8]}.pem",
            "revocations": tmp_path / "revocations.json",
        }
        out["artifact"].write_bytes(artifact or real_models.iris_onnx())
        out["attestation"].write_text(json.dumps(envelope or answer.json()))
        out["key"].write_text(pem)
        out["revocations"].write_text(
            json.dumps(client.get("/api/v1/revocations/").json())
        )
        return out

    return write


def verify(
    paths: dict[str, Path], *extra: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """The installed ``modelreg`` verifying offline: no URL, no token."""
    return subprocess.run(
        [
            MODELREG,
            *options,
            "verify",
            str(paths["artifact"]),
            "--attestation",
            str(paths["attestation"]),
            "--key",
            str(paths["key"]),
            *extra,
        ],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def viewer_api(client_for: Callable[[Any], Any], viewer: Any) -> Any:
    return client_for(viewer)


@pytest.fixture
def member(make_reviewer: Callable[..., Any]) -> Callable[[], Any]:
    """A new reviewer in the ``ml-reviewers`` group that reviews iris."""

    def make() -> Any:
        reviewer = make_reviewer()
        Group.objects.get_or_create(name="ml-reviewers")[0].user_set.add(reviewer)
        return reviewer

    return make


@pytest.fixture
def approved(
    make_version: Callable[..., ModelVersion],
    member: Callable[[], Any],
    set_policy: Any,
) -> ModelVersion:
    """v1 of iris approved by two reviewers of a reviewer group, under a gate."""
    version = make_version(metrics={"accuracy": 0.96})
    first, second = member(), member()
    set_policy(
        required_approvals=2,
        reviewers="ml-reviewers",
        metric_gates=[{"metric": "accuracy", "op": ">=", "value": 0.5}],
    )
    approve(first, version, "looks right")
    approve(second, version, "agreed")
    version.refresh_from_db()
    assert version.approval_status == ApprovalStatus.APPROVED
    return version


def test_approval_writes_a_signed_statement_about_the_artifact(
    approved, viewer_api, settings
):
    answer = viewer_api.get(url(approved))

    assert answer.status_code == 200
    envelope = answer.json()
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert set(envelope["signatures"][0]) == {"keyid", "sig"}
    body = statement_of(envelope)
    assert body["_type"] == "https://in-toto.io/Statement/v1"
    assert body["subject"] == [
        {"name": "iris-v1.onnx", "digest": {"sha256": approved.artifact_sha256}}
    ]
    predicate = body["predicate"]
    event = Event.objects.get(kind="version.approved", version_id=approved.pk)
    assert predicate["event_id"] == event.pk
    assert predicate["group"] == "iris" and predicate["version"] == 1
    assert predicate["registry"] == settings.REGISTRY_PUBLIC_URL
    assert [a["reviewer"] for a in predicate["approvals"]] == approvers(approved)
    assert all(a["approved_at"] for a in predicate["approvals"])
    policy = predicate["policy"]
    assert policy["required_approvals"] == 2
    assert policy["reviewers"] == "ml-reviewers"
    assert policy["gates"] == [
        {"name": "accuracy >= 0.5", "passed": True, "detail": "accuracy is 0.96"}
    ]
    assert "revocation" not in envelope


def test_the_attestation_verifies_offline_with_the_cli(approved, viewer_api, files):
    paths = files(approved, viewer_api)

    done = verify(paths)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID")
    assert "group: iris" in done.stdout and "version: 1" in done.stdout
    first, second = approvers(approved)
    assert (
        f"approved by: {first} at " in done.stdout and f", {second} at " in done.stdout
    )
    assert "2 approval(s) from ml-reviewers" in done.stdout
    assert "gate accuracy >= 0.5: passed" in done.stdout


def test_one_byte_changed_in_the_artifact_fails(approved, viewer_api, files):
    model = bytearray(real_models.iris_onnx())
    model[len(model) // 2] ^= 0x01
    paths = files(approved, viewer_api, artifact=bytes(model))

    done = verify(paths)

    assert done.returncode == 1
    assert "digest mismatch" in done.stdout


def test_one_byte_changed_in_the_envelope_payload_fails(approved, viewer_api, files):
    envelope = viewer_api.get(url(approved)).json()
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[10] ^= 0x01
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    paths = files(approved, viewer_api, envelope=envelope)

    done = verify(paths)

    assert done.returncode == 1
    assert "signature does not verify" in done.stdout


def test_a_changed_predicate_fails(approved, viewer_api, files):
    envelope = viewer_api.get(url(approved)).json()
    body = statement_of(envelope)
    body["predicate"]["approvals"][0]["reviewer"] = "mallory"
    envelope["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    paths = files(approved, viewer_api, envelope=envelope)

    done = verify(paths)

    assert done.returncode == 1


def test_a_signature_by_another_key_fails(approved, viewer_api, files):
    other = signing.load_signing_key(signing.generate_pem())
    envelope = signing.sign(statement_of(viewer_api.get(url(approved)).json()), other)
    paths = files(approved, viewer_api, envelope=envelope)

    assert verify(paths).returncode == 1


def test_a_revoked_version_is_reported_revoked(approved, viewer_api, files, member):
    reject(member(), approved, "data leak found in the training set")
    answer = viewer_api.get(url(approved)).json()
    paths = files(approved, viewer_api)

    with_list = verify(paths, "--revocations", str(paths["revocations"]))

    assert with_list.returncode == 3, with_list.stdout + with_list.stderr
    assert with_list.stdout.startswith("REVOKED")
    assert "data leak found" in with_list.stdout
    revocation = statement_of(answer["revocation"])
    assert revocation["predicateType"].endswith("/revocation/v1")
    assert revocation["subject"] == statement_of(answer)["subject"]
    approval_event = Event.objects.get(kind="version.approved", version_id=approved.pk)
    assert revocation["predicate"]["approval"]["event_id"] == approval_event.pk


def test_a_revocation_signed_by_another_key_does_not_count(
    approved, viewer_api, files, member
):
    reject(member(), approved, "revoked")
    paths = files(approved, viewer_api)
    forged = signing.sign(
        statement_of(viewer_api.get(url(approved)).json()["revocation"]),
        signing.load_signing_key(signing.generate_pem()),
    )
    envelope = viewer_api.get(url(approved)).json()
    del envelope["revocation"]
    paths["attestation"].write_text(json.dumps(envelope))
    paths["revocations"].write_text(json.dumps([forged]))

    done = verify(paths, "--revocations", str(paths["revocations"]))

    assert done.returncode == 0


def test_reapproval_after_revocation_is_valid_again(
    approved, viewer_api, files, member, owner
):
    reject(member(), approved, "revoked")
    resubmit(owner, approved)
    for reviewer in (member(), member()):
        approve(reviewer, approved)
    paths = files(approved, viewer_api)

    done = verify(paths, "--revocations", str(paths["revocations"]))

    assert done.returncode == 0, done.stdout
    assert "revocation" not in viewer_api.get(url(approved)).json()


def test_no_attestation_before_approval(version, viewer_api):
    answer = viewer_api.get(url(version))

    assert answer.status_code == 404
    assert "never been approved" in answer.json()["error"]["message"]


def test_attestations_need_authentication(approved, client_for):
    anonymous = client_for(None)

    assert anonymous.get(url(approved)).status_code == 401
    assert anonymous.get("/api/v1/signing-keys/").status_code == 401
    assert anonymous.get("/api/v1/revocations/").status_code == 401


def test_signing_keys_lists_the_active_public_key(approved, viewer_api):
    keys = viewer_api.get("/api/v1/signing-keys/").json()

    assert [set(k) for k in keys] == [
        {"keyid", "algorithm", "public_key_pem", "active"}
    ]
    (key,) = keys
    assert key["active"] is True and key["algorithm"] == "ed25519"
    public = signing.load_public_key(key["public_key_pem"])
    assert signing.keyid_of(public) == key["keyid"]
    envelope = viewer_api.get(url(approved)).json()
    assert envelope["signatures"][0]["keyid"] == key["keyid"]


def test_rotation_keeps_the_old_key_published_and_old_attestations_valid(
    approved, viewer_api, files, settings, make_version, member
):
    old = viewer_api.get("/api/v1/signing-keys/").json()[0]
    settings.REGISTRY_SIGNING_KEY = signing.generate_pem(signing.ECDSA_P256).decode()
    second = make_version(metrics={"accuracy": 0.97})
    for reviewer in (member(), member()):
        approve(reviewer, second)

    keys = viewer_api.get("/api/v1/signing-keys/").json()

    assert [(k["keyid"], k["active"]) for k in keys][1:] == [(old["keyid"], False)]
    new = keys[0]
    assert new["active"] is True and new["algorithm"] == "ecdsa-p256-sha256"
    assert verify(files(approved, viewer_api, keyid=old["keyid"])).returncode == 0
    assert verify(files(second, viewer_api, keyid=new["keyid"])).returncode == 0
    assert attestations.attestation_verify(approved).keyid == old["keyid"]
    assert attestations.attestation_verify(second).keyid == new["keyid"]


def test_without_a_signing_key_nothing_is_approved(version, reviewer, settings):
    settings.REGISTRY_SIGNING_KEY = ""

    with pytest.raises(Exception, match="no signing key"):
        approve(reviewer, version)

    version.refresh_from_db()
    assert version.approval_status == ApprovalStatus.PENDING
    assert not Event.objects.filter(kind="version.approved").exists()
    assert not Attestation.objects.exists()
    assert not SigningKey.objects.exists()


def test_a_skops_artifact_is_attested_too(owner, reviewer, viewer_api, files):
    group = catalog_services.group_create(actor=owner, name="iris-skops")
    skops = catalog_services.version_register(
        actor=owner,
        group=group,
        artifact=ContentFile(real_models.iris_skops(), name="m.skops"),
    )
    approve(reviewer, skops)
    paths = files(skops, viewer_api, artifact=real_models.iris_skops())

    assert statement_of(viewer_api.get(url(skops)).json())["subject"][0][
        "name"
    ].endswith(".skops")
    assert verify(paths).returncode == 0


def test_the_key_in_use_is_published_before_it_first_signs(viewer_api, settings):
    pem = signing.generate_pem(signing.ECDSA_P256).decode()
    settings.REGISTRY_SIGNING_KEY = pem

    keys = viewer_api.get("/api/v1/signing-keys/").json()

    assert [(k["keyid"], k["active"]) for k in keys] == [
        (signing.load_signing_key(pem).keyid, True)
    ]


def test_verify_with_unreadable_files_is_bad_usage(approved, viewer_api, files):
    paths = files(approved, viewer_api)
    paths["key"].write_text("not a key")

    done = verify(paths)

    assert done.returncode == 4
    assert "not a PEM public key" in done.stderr


def test_verify_answers_json_for_pipelines(approved, viewer_api, files):
    done = verify(files(approved, viewer_api), options=("--output", "json"))

    report = json.loads(done.stdout)
    assert done.returncode == 0
    assert report["valid"] is True and report["revoked"] is False
    assert report["statement"]["predicate"]["version"] == 1


def test_an_expired_approval_that_revokes_signs_a_revocation(
    approved, viewer_api, files, set_policy
):
    set_policy(approval_valid_days=30, on_expiry="revoke")
    assert services.approvals_expire(now=timezone.now() + timedelta(days=31)) == 1
    answer = viewer_api.get(url(approved)).json()
    paths = files(approved, viewer_api)

    done = verify(paths)

    revocation = statement_of(answer["revocation"])["predicate"]
    assert revocation["revoked_by"] is None
    assert revocation["reason"] == "The approval expired after 30 days."
    assert done.returncode == 3, done.stdout
    assert "revoked by the registry" in done.stdout
    policy = statement_of(answer)["predicate"]["policy"]
    assert policy["approval_valid_days"] is None  # the policy as it was at approval
