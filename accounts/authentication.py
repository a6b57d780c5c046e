"""``Authorization: Token <key>``: checked against hashed keys, remembered briefly.

A web process remembers a token's user, roles and scopes for
``REGISTRY_AUTH_CACHE`` seconds, so an API call costs one small query (is the token
still unrevoked, unexpired, its user active?) instead of loading all of that again.
Revocation and expiry therefore take effect at once; a change of the user's roles
reaches token requests within those seconds. The invocation path, the hottest,
skips even that query for ``REGISTRY_INVOKE_AUTH_CACHE`` seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import throttling
from accounts.models import ApiToken, hash_key
from accounts.roles import Actor, may_invoke, remember_token
from accounts.services import token_authenticate


@dataclass
class _Cached:
    user: Actor
    token: Any
    may_invoke: bool
    until: float


def _still_valid(token_id: int) -> bool:
    """Unrevoked, unexpired, user active: one hand-written query, nothing to compile."""
    user_table = get_user_model()._meta.db_table
    sql = (
        f"SELECT 1 FROM {ApiToken._meta.db_table} t JOIN {user_table} u "  # noqa: S608
        "ON u.id = t.user_id WHERE t.id = %s AND t.revoked_at IS NULL "
        "AND (t.expires_at IS NULL OR t.expires_at > %s) AND u.is_active"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [token_id, timezone.now()])
        return cursor.fetchone() is not None


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>`` checked against hashed keys."""

    keyword = "Token"
    _cache: ClassVar[dict[str, _Cached]] = {}
    _lock = threading.Lock()

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: use 'Authorization: Token <key>'."
            )
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token characters.") from exc
        return self.check_key(key, request)

    def ttl(self) -> float:
        return settings.REGISTRY_AUTH_CACHE

    def fresh_enough(self, hit: _Cached) -> bool:
        return _still_valid(hit.token.pk)

    def check_key(self, key: str, request: Any = None) -> tuple[Any, Any]:
        digest, now = hash_key(key), time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit.until > now and self.fresh_enough(hit):
            return hit.user, hit
        # Only unremembered keys are counted and limited: a guess is never remembered.
        wait = throttling.token_failures_wait(request) if request else None
        if wait is not None:
            raise exceptions.Throttled(
                wait, "Too many failed token authentications from this address."
            )
        token = token_authenticate(key)
        if token is None:
            self._cache.pop(digest, None)
            if request is not None:
                throttling.token_failed(request)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        remember_token(token.user, token)
        if self.ttl() > 0:
            entry = _Cached(token.user, token, may_invoke(token.user), now + self.ttl())
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = entry
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._cache.clear()


class InvocationTokenAuthentication(TokenAuthentication):
    """The invocation path: within ``REGISTRY_INVOKE_AUTH_CACHE`` seconds a remembered
    token is trusted without any query (a revoked token stops within that time)."""

    _cache: ClassVar[dict[str, _Cached]] = {}

    def ttl(self) -> float:
        return settings.REGISTRY_INVOKE_AUTH_CACHE

    def fresh_enough(self, hit: _Cached) -> bool:
        return hit.token.expires_at is None or hit.token.expires_at > timezone.now()
