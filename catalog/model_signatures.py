"""OpenSSF model signing (``model-signing``) on upload: trusted keys and verification.

A producer signs the model file with its elliptic-curve private key
(``model_signing.signing.Config().use_elliptic_key_signer(...)``) and uploads the
signature bundle beside the artifact. The registry checks it against the public keys
the group trusts, offline (no Sigstore service is contacted).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from catalog.models import SignatureStatus, TrustedSigningKey
from common import jsonsafe
from common.errors import Invalid

# The curves model-signing signs and verifies with.
CURVES = ("secp256r1", "secp384r1", "secp521r1")
MAX_BUNDLE_SIZE = 1024 * 1024


def public_key(pem: Any, field: str = "public_key_pem") -> tuple[str, str]:
    """The normalised PEM of an elliptic-curve public key and its fingerprint (the
    SHA-256 of that PEM, which model-signing bundles carry as their key hint)."""
    if not isinstance(pem, str) or not pem.strip():
        raise Invalid.on(field, "A PEM public key is required.")
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise Invalid.on(field, "Not a PEM public key.") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in CURVES:
        raise Invalid.on(
            field, "Must be an elliptic-curve key on P-256, P-384 or P-521."
        )
    raw = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return raw.decode(), hashlib.sha256(raw).hexdigest()


def read_bundle(upload: Any) -> dict[str, Any]:
    """The uploaded signature bundle as JSON; anything else is a 400 naming
    ``model_signature``."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BUNDLE_SIZE:
        raise Invalid.on("model_signature", "The signature file is too large.")
    upload.seek(0)
    data = upload.read(MAX_BUNDLE_SIZE + 1)
    if len(data) > MAX_BUNDLE_SIZE:
        raise Invalid.on("model_signature", "The signature file is too large.")
    message = "Not a model-signing signature bundle (JSON)."
    try:
        bundle = jsonsafe.loads(data)
        # Kept in a JSON column: no NaN/Infinity, no NUL characters (which
        # PostgreSQL's jsonb refuses and no real bundle holds).
        json.dumps(bundle, allow_nan=False)
    except ValueError as exc:
        raise Invalid.on("model_signature", message) from exc
    if "\\u0000" in json.dumps(bundle):
        raise Invalid.on("model_signature", message)
    if not isinstance(bundle, dict) or "dsseEnvelope" not in bundle:
        message = "Not a model-signing signature bundle (no DSSE envelope)."
        raise Invalid.on("model_signature", message)
    return bundle


@dataclass(frozen=True)
class Verdict:
    status: str
    key: TrustedSigningKey | None = None
    detail: str = ""


def _hint(bundle: dict[str, Any]) -> str:
    material = bundle.get("verificationMaterial")
    key = material.get("publicKey") if isinstance(material, dict) else None
    hint = key.get("hint") if isinstance(key, dict) else None
    return hint if isinstance(hint, str) else ""


def verify(
    model_path: str, bundle: dict[str, Any], keys: Iterable[TrustedSigningKey]
) -> Verdict:
    """Check ``bundle`` against the model file at ``model_path`` with each trusted
    key: ``verified`` (a trusted key signed exactly these bytes), ``invalid`` (a
    trusted key signed, but other bytes, or the bundle is malformed) or
    ``untrusted`` (no trusted key made the signature)."""
    from model_signing import verifying

    hint = _hint(bundle)
    ordered = sorted(keys, key=lambda k: k.fingerprint != hint)
    with tempfile.TemporaryDirectory() as tmp:
        signature = pathlib.Path(tmp, "model.sig")
        signature.write_text(json.dumps(bundle))
        for key in ordered:
            pem = pathlib.Path(tmp, "key.pem")
            pem.write_text(key.public_key_pem)
            config = verifying.Config().use_elliptic_key_verifier(public_key=pem)
            try:
                config.verify(pathlib.Path(model_path), signature)
            except InvalidSignature:
                continue
            except ValueError as exc:
                if str(exc).startswith("Signature mismatch"):
                    return Verdict(
                        SignatureStatus.INVALID,
                        key,
                        "signed by a trusted key, but not over these model bytes",
                    )
                if str(exc).startswith("Key mismatch"):
                    continue
                return Verdict(SignatureStatus.INVALID, None, str(exc)[:500])
            except Exception as exc:  # a malformed bundle breaks the parser
                return Verdict(SignatureStatus.INVALID, None, str(exc)[:500])
            return Verdict(SignatureStatus.VERIFIED, key)
    return Verdict(SignatureStatus.UNTRUSTED)
