"""Real OpenSSF model-signing signatures for tests: fresh P-256 keys, bundles made by
the ``model_signing`` library with the key method (offline)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import signing


def make_key(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A fresh P-256 private key written to a PEM file, and its public key PEM."""
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / f"{name}.key"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public.decode()


def sign(tmp_path: Path, model: bytes, key_path: Path) -> bytes:
    """The model-signing bundle of ``model`` signed with the key at ``key_path``."""
    model_path = tmp_path / f"model-{os.urandom(4).hex()}.onnx"
    model_path.write_bytes(model)
    signature = tmp_path / "model.sig"
    signing.Config().use_elliptic_key_signer(private_key=key_path).sign(
        model_path, signature
    )
    return signature.read_bytes()
