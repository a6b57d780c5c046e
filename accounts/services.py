"""Issuing, checking and revoking API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, hash_key

# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def token_issue(
    *, user: Any, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the key, shown only this once."""
    key = ApiToken.new_key()
    token = ApiToken(
        user=user,
        name=name,
        prefix=key[:10],
        digest=hash_key(key),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    return token, key


def token_authenticate(key: str) -> ApiToken | None:
    """The active token for ``key``, or None; records when it was last used."""
    token = ApiToken.objects.select_related("user").filter(digest=hash_key(key)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token; revoking a revoked token changes nothing."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    return token
