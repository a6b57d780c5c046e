"""``modelreg verify``: check a signed approval attestation offline.

The registry signs an in-toto Statement v1 in a DSSE envelope when a version is
approved. This checks, with no registry: that the envelope's signature verifies
under the given public key (DSSE pre-authentication encoding), that the Statement is
an approval whose subject's SHA-256 is the artifact's, and, given signed
revocations, that the approval was not revoked. It mirrors the registry's own
``common/attestation.py`` (which this distribution does not install).

Exit codes: 0 valid, 1 invalid (digest or signature), 3 revoked, 4 bad usage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
APPROVAL_PREDICATE = "https://model-registry.example/attestation/approval/v1"
REVOCATION_PREDICATE = "https://model-registry.example/attestation/revocation/v1"
VALID, INVALID, REVOKED = 0, 1, 3

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class Invalid(Exception):
    """The attestation does not hold: bad signature, other bytes, wrong shape."""


class BadInput(Exception):
    """A file that cannot be read or is not what the option expects."""


@dataclass
class Result:
    code: int
    statement: dict[str, Any] = field(default_factory=dict)
    revocation: dict[str, Any] | None = None
    error: str = ""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def load_key(path: str) -> PublicKey:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise BadInput(f"cannot read the key {path}: {exc}") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BadInput(f"{path} is not a PEM public key: {exc}") from exc
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise BadInput(f"{path}: the key must be Ed25519 or ECDSA P-256")


def load_json(path: str, what: str) -> Any:
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read the {what} {path}: {exc}") from exc


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
    except OSError as exc:
        raise BadInput(f"cannot read the artifact {path}: {exc}") from exc
    return digest.hexdigest()


def _signature_ok(key: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def open_envelope(envelope: Any, key: PublicKey) -> dict[str, Any]:
    """The Statement signed in ``envelope``, if a signature verifies under ``key``."""
    try:
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [
            base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]
        ]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise Invalid(f"not a DSSE envelope ({exc!r})") from exc
    if payload_type != PAYLOAD_TYPE:
        raise Invalid(f"payloadType is {payload_type!r}, not {PAYLOAD_TYPE}")
    message = pae(payload_type, payload)
    if not any(_signature_ok(key, sig, message) for sig in signatures):
        raise Invalid("the signature does not verify under the given key")
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise Invalid(f"the signed payload is not JSON: {exc}") from exc
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise Invalid("the signed payload is not an in-toto Statement v1")
    return statement


def subject_sha256(statement: dict[str, Any]) -> str:
    try:
        return str(statement["subject"][0]["digest"]["sha256"])
    except (KeyError, IndexError, TypeError) as exc:
        raise Invalid("the Statement names no SHA-256 subject") from exc


def _envelopes(document: Any) -> list[Any]:
    """Revocation envelopes in a file: one envelope, a list of them, or an
    attestation answer that carries ``revocation``."""
    items = document if isinstance(document, list) else [document]
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("revocation"), dict):
            found.append(item["revocation"])
        elif isinstance(item, dict) and "payload" in item:
            found.append(item)
    return found


def _revocation(
    candidates: list[Any], key: PublicKey, approval: dict[str, Any]
) -> dict[str, Any] | None:
    """The first signed revocation of the approved version among ``candidates``.

    Only revocations signed by the key count; one issued before this approval (of an
    earlier round) names another approval event and does not count."""
    digest = subject_sha256(approval)
    predicate = approval.get("predicate", {})
    for envelope in candidates:
        try:
            statement = open_envelope(envelope, key)
        except Invalid:
            continue
        revoked = statement.get("predicate", {})
        if (
            statement.get("predicateType") == REVOCATION_PREDICATE
            and subject_sha256(statement) == digest
            and revoked.get("group") == predicate.get("group")
            and revoked.get("version") == predicate.get("version")
            and (revoked.get("approval") or {}).get("event_id")
            in (None, predicate.get("event_id"))
        ):
            return statement
    return None


def verify(
    artifact: str, attestation: str, key_path: str, revocations: str | None = None
) -> Result:
    """Verify ``artifact`` against the attestation file with the public key."""
    key = load_key(key_path)
    document = load_json(attestation, "attestation")
    candidates = (
        _envelopes(load_json(revocations, "revocations")) if revocations else []
    )
    if isinstance(document, dict) and isinstance(document.get("revocation"), dict):
        candidates.append(document["revocation"])
    actual = sha256_of(artifact)
    try:
        statement = open_envelope(document, key)
        if statement.get("predicateType") != APPROVAL_PREDICATE:
            raise Invalid("the Statement is not a registry approval")
        expected = subject_sha256(statement)
        if expected != actual:
            raise Invalid(
                f"digest mismatch: the artifact's sha256 is {actual}, "
                f"the attestation names {expected}"
            )
    except Invalid as exc:
        return Result(INVALID, error=str(exc))
    revocation = _revocation(candidates, key, statement)
    return Result(REVOKED if revocation else VALID, statement, revocation)


def report(result: Result) -> str:
    """The verdict in words: group, version, approvers and policy."""
    if result.code == INVALID:
        return f"INVALID: {result.error}"
    p = result.statement.get("predicate", {})
    policy = p.get("policy", {})
    lines = [
        "REVOKED" if result.code == REVOKED else "VALID",
        f"group: {p.get('group')}",
        f"version: {p.get('version')}",
        f"sha256: {subject_sha256(result.statement)}",
        "approved by: "
        + ", ".join(
            f"{a.get('reviewer')} at {a.get('approved_at')}"
            for a in p.get("approvals", [])
        ),
        f"policy: {policy.get('required_approvals')} approval(s)"
        + (f" from {policy['reviewers']}" if policy.get("reviewers") else ""),
    ]
    for gate in policy.get("gates", []):
        mark = "passed" if gate.get("passed") else "failed"
        detail = f" ({gate['detail']})" if gate.get("detail") else ""
        lines.append(f"  gate {gate.get('name')}: {mark}{detail}")
    lines.append(f"registry: {p.get('registry')} (approval event {p.get('event_id')})")
    if result.revocation is not None:
        r = result.revocation.get("predicate", {})
        lines.append(
            f"revoked by {r.get('revoked_by') or 'the registry'} at "
            f"{r.get('revoked_at')}: "
            f"{r.get('reason')}"
        )
    return "\n".join(lines)
