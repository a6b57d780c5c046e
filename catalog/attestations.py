"""Signed approval attestations: written with the approval, read by deployments.

The approvals service calls ``attestation_record`` inside the transaction that
approves (or revokes) a version, so an Approved version always has its signed
statement, and a rolled-back approval leaves none. Signing is local CPU work (no
call out). The registry's key comes from ``REGISTRY_SIGNING_KEY`` (or the file
``registry_site.prepare`` generates); every key it has signed with stays published
in ``SigningKey`` so that attestations made before a rotation still verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from catalog.models import (
    Attestation,
    AttestationKind,
    Event,
    ModelVersion,
    SigningKey,
)
from common import attestation as signing
from common.errors import Conflict

_lock = threading.Lock()
_loaded: dict[str, signing.SigningKey] = {}


class AttestationInvalid(Exception):
    """A version's attestation is missing, revoked, or does not verify."""


def signing_key() -> signing.SigningKey:
    """The registry's current signing key, loaded once per process."""
    pem = settings.REGISTRY_SIGNING_KEY
    if not pem:
        raise Conflict(
            "The registry has no signing key for attestations: set "
            "REGISTRY_SIGNING_KEY (or REGISTRY_SIGNING_KEY_FILE), or run "
            "`python -m registry_site.prepare`."
        )
    with _lock:
        if pem not in _loaded:
            _loaded[pem] = signing.load_signing_key(pem)
        return _loaded[pem]


def _publish(key: signing.SigningKey) -> None:
    """Make ``key`` the active published key; earlier keys stay published."""
    SigningKey.objects.bulk_create(
        [
            SigningKey(
                keyid=key.keyid,
                algorithm=key.algorithm,
                public_key_pem=key.public_key_pem,
                active=True,
            )
        ],
        ignore_conflicts=True,
    )
    SigningKey.objects.filter(active=True).exclude(keyid=key.keyid).update(active=False)
    SigningKey.objects.filter(keyid=key.keyid, active=False).update(active=True)


def subject_name(version: ModelVersion) -> str:
    """The artifact's name in a Statement: the name its download carries."""
    extension = {"onnx": "onnx", "skops": "skops"}.get(version.artifact_format, "bin")
    return f"{version.group.name}-v{version.version}.{extension}"


def attestation_record(
    *, version: ModelVersion, kind: str, event: Event, predicate: dict[str, Any]
) -> Attestation | None:
    """Sign and store a statement about ``version``; call it inside the transaction
    of the approval or revocation (``event``) it attests. A version recorded without
    a model file has no bytes to attest: nothing is written."""
    if version.artifact_absent or not version.artifact_sha256:
        return None
    key = signing_key()
    _publish(key)
    predicate_type = {
        AttestationKind.APPROVAL: signing.APPROVAL_PREDICATE,
        AttestationKind.REVOCATION: signing.REVOCATION_PREDICATE,
    }[AttestationKind(kind)]
    body = signing.statement(
        name=subject_name(version),
        sha256=version.artifact_sha256,
        predicate_type=predicate_type,
        predicate={
            **predicate,
            "registry": settings.REGISTRY_PUBLIC_URL,
            "event_id": event.pk,
        },
    )
    return Attestation.objects.create(
        version=version,
        kind=kind,
        event_id=event.pk,
        keyid=key.keyid,
        envelope=signing.sign(body, key),
        created_at=timezone.now(),
    )


def payload_sha256(row: Attestation) -> str:
    """The SHA-256 of an attestation's signed payload (how a revocation names it)."""
    return hashlib.sha256(base64.b64decode(row.envelope["payload"])).hexdigest()


def last_approval(version: ModelVersion) -> Attestation | None:
    return (
        Attestation.objects.filter(version=version, kind=AttestationKind.APPROVAL)
        .order_by("-id")
        .first()
    )


@dataclass(frozen=True)
class Current:
    """A version's latest approval attestation and, if revoked since, the revocation."""

    approval: Attestation
    revocation: Attestation | None

    def revocation_predicate(self) -> dict[str, Any]:
        """What the revocation says (who, when, why); empty when not revoked."""
        if self.revocation is None:
            return {}
        payload = base64.b64decode(self.revocation.envelope["payload"])
        return dict(json.loads(payload).get("predicate", {}))


def attestation_current(version: ModelVersion) -> Current | None:
    """None while the version has never been approved. One query: a revocation is
    only ever written right after the approval it revokes."""
    rows = list(Attestation.objects.filter(version=version).order_by("-id")[:2])
    if not rows:
        return None
    if rows[0].kind == AttestationKind.APPROVAL:
        return Current(rows[0], None)
    if len(rows) > 1 and rows[1].kind == AttestationKind.APPROVAL:
        return Current(rows[1], rows[0])
    return None  # a revocation of an approval made before attestations existed


def revocations() -> list[Attestation]:
    """Every signed revocation, newest first (the revocation list)."""
    return list(Attestation.objects.filter(kind=AttestationKind.REVOCATION))


def signing_keys() -> list[SigningKey]:
    """Every key the registry has signed with, the active one first. The key it
    signs with now is listed (active) before its first signature, so verifiers can
    fetch it ahead of time; it is stored when it first signs."""
    rows = list(SigningKey.objects.order_by("-active", "-created_at", "-id"))
    pem = settings.REGISTRY_SIGNING_KEY
    if not pem:
        return rows
    key = signing_key()
    if any(row.keyid == key.keyid for row in rows):
        return rows
    for row in rows:
        row.active = False
    current = SigningKey(
        keyid=key.keyid,
        algorithm=key.algorithm,
        public_key_pem=key.public_key_pem,
        active=True,
    )
    return [current, *rows]


def published_keys() -> dict[str, signing.PublicKey]:
    return {
        row.keyid: signing.load_public_key(row.public_key_pem)
        for row in SigningKey.objects.all()
    }


@dataclass(frozen=True)
class Verified:
    keyid: str
    statement: dict[str, Any]

    @property
    def approvers(self) -> list[str]:
        return [a["reviewer"] for a in self.statement["predicate"].get("approvals", [])]


def attestation_verify(version: ModelVersion) -> Verified:
    """Check that ``version`` carries a valid, unrevoked approval attestation for
    the bytes recorded at upload (which deployments check again when they load)."""
    current = attestation_current(version)
    if current is None:
        raise AttestationInvalid(
            f"v{version.version} has no approval attestation; it cannot be deployed."
        )
    if current.revocation is not None:
        raise AttestationInvalid(f"v{version.version}'s approval was revoked.")
    try:
        body, keyid = signing.verify_envelope(
            current.approval.envelope, published_keys()
        )
        digest = signing.subject_sha256(body)
    except signing.InvalidAttestation as exc:
        raise AttestationInvalid(
            f"v{version.version}'s attestation is invalid: {exc}"
        ) from exc
    if body.get("predicateType") != signing.APPROVAL_PREDICATE:
        raise AttestationInvalid(
            f"v{version.version}'s attestation is not an approval statement."
        )
    predicate = body.get("predicate") or {}
    if digest != version.artifact_sha256 or predicate.get("version") != (
        version.version
    ):
        raise AttestationInvalid(
            f"v{version.version}'s attestation is about other bytes "
            f"(sha256 {digest[:12]}…, recorded {version.artifact_sha256[:12]}…)."
        )
    return Verified(keyid, body)
