"""Encrypting secrets the registry must read back (access keys' secrets, for SigV4).

The key is ``REGISTRY_ACCESS_KEY_ENCRYPTION_KEY`` when set, else derived from
``SECRET_KEY``: rotating the one in use makes every stored secret unreadable, so
keys issued before then stop working (and must be issued again).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = settings.REGISTRY_ACCESS_KEY_ENCRYPTION_KEY or settings.SECRET_KEY
    digest = hashlib.sha256(b"registry-access-keys:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The secret, or None if it was sealed under another key."""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
