"""Signed attestations without Django: in-toto Statements v1 in DSSE envelopes.

A Statement names its subject (an artifact's name and SHA-256) and carries a
predicate; the envelope signs the Statement's bytes with the pre-authentication
encoding (PAE) of the DSSE spec, so a signature covers the payload type too. Keys
are Ed25519 or ECDSA P-256 (SHA-256), in PEM; a key's id is the SHA-256 of its
public key (DER SubjectPublicKeyInfo). The ``modelreg`` CLI verifies the same
envelopes offline with a copy of ``pae`` and ``verify_envelope`` (it is installed
without the server).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
APPROVAL_PREDICATE = "https://model-registry.example/attestation/approval/v1"
REVOCATION_PREDICATE = "https://model-registry.example/attestation/revocation/v1"
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256-sha256"

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class UnusableKey(ValueError):
    """A PEM that is not an Ed25519 or ECDSA P-256 key."""


class InvalidAttestation(ValueError):
    """The envelope is malformed, or no signature verifies under the given keys."""


@dataclass(frozen=True)
class SigningKey:
    """A private key with what is published about it."""

    private: PrivateKey
    keyid: str
    algorithm: str
    public_key_pem: str


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload``."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _algorithm(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(key.curve, ec.SECP256R1):
        return ECDSA_P256
    raise UnusableKey(f"ECDSA keys must use P-256, not {key.curve.name}.")


def _public_pem(public: PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def keyid_of(public: PublicKey) -> str:
    """The SHA-256 of the public key's DER SubjectPublicKeyInfo, in hex."""
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def load_signing_key(pem: str | bytes) -> SigningKey:
    """The private key in ``pem`` (PKCS#8 or traditional, unencrypted)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UnusableKey(f"not a usable PEM private key: {exc}") from exc
    if not isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise UnusableKey("signing keys are Ed25519 or ECDSA P-256.")
    algorithm = _algorithm(private)
    public = private.public_key()
    return SigningKey(private, keyid_of(public), algorithm, _public_pem(public))


def load_public_key(pem: str | bytes) -> PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise UnusableKey(f"not a usable PEM public key: {exc}") from exc
    if not isinstance(public, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise UnusableKey("signing keys are Ed25519 or ECDSA P-256.")
    _algorithm(public)
    return public


def generate_pem(algorithm: str = ED25519) -> bytes:
    """A new private key in unencrypted PKCS#8 PEM."""
    private: PrivateKey
    if algorithm == ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == ECDSA_P256:
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise UnusableKey(f"unknown algorithm {algorithm!r}")
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def statement(
    *, name: str, sha256: str, predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1 about one artifact, checked against the spec's shape."""
    from google.protobuf import json_format
    from in_toto_attestation.v1.statement import Statement
    from in_toto_attestation.v1.statement_pb2 import Statement as StatementPb

    body = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha256}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    parsed = json_format.ParseDict(json.loads(json.dumps(body)), StatementPb())
    Statement.copy_from_pb(parsed).validate()
    return body


def canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def sign(body: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """A DSSE envelope of ``body`` signed with ``key``."""
    payload = canonical(body)
    message = pae(PAYLOAD_TYPE, payload)
    if isinstance(key.private, ed25519.Ed25519PrivateKey):
        signature = key.private.sign(message)
    else:
        signature = key.private.sign(message, ec.ECDSA(hashes.SHA256()))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {"keyid": key.keyid, "sig": base64.b64encode(signature).decode()}
        ],
    }


def _signature_ok(public: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, message)
        else:
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def verify_envelope(
    envelope: Any, keys: dict[str, PublicKey]
) -> tuple[dict[str, Any], str]:
    """The Statement of ``envelope`` and the id of the key whose signature verifies.

    ``keys`` maps key ids to public keys; a signature whose key id is unknown is
    tried under every key (the id is only a hint).
    """
    try:
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [
            (str(s.get("keyid", "")), base64.b64decode(s["sig"], validate=True))
            for s in envelope["signatures"]
        ]
    except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise InvalidAttestation(f"not a DSSE envelope: {exc!r}") from exc
    if payload_type != PAYLOAD_TYPE:
        raise InvalidAttestation(f"payloadType is {payload_type!r}")
    message = pae(payload_type, payload)
    for keyid, signature in signatures:
        candidates = [keyid] if keyid in keys else list(keys)
        for candidate in candidates:
            if _signature_ok(keys[candidate], signature, message):
                return _statement_of(payload), candidate
    raise InvalidAttestation("no signature verifies under the registry's keys")


def _statement_of(payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise InvalidAttestation(f"the payload is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("_type") != STATEMENT_TYPE:
        raise InvalidAttestation("the payload is not an in-toto Statement v1")
    return body


def subject_sha256(body: dict[str, Any]) -> str:
    """The SHA-256 of the Statement's (one) subject."""
    try:
        return str(body["subject"][0]["digest"]["sha256"])
    except (KeyError, IndexError, TypeError) as exc:
        raise InvalidAttestation("the Statement names no SHA-256 subject") from exc
