from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import hash_key
from accounts.roles import limit_to_scopes, may_invoke
from accounts.services import token_authenticate


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>`` checked against hashed keys."""

    keyword = "Token"

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
        return self.check_key(key)

    def check_key(self, key: str) -> tuple[Any, Any]:
        token = token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        limit_to_scopes(token.user, token.scopes)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


@dataclass
class _Cached:
    user: Any
    token: Any
    may_invoke: bool
    until: float


class InvocationTokenAuthentication(TokenAuthentication):
    """Token authentication for the invocation path, remembered per process for
    ``REGISTRY_INVOKE_AUTH_CACHE`` seconds.

    Invocations are the hot path: without this, two queries (token, roles) cost more
    than the model. A revoked or expired token stops working within those seconds.
    """

    _cache: ClassVar[dict[str, _Cached]] = {}
    _lock = threading.Lock()

    def check_key(self, key: str) -> tuple[Any, Any]:
        ttl = settings.REGISTRY_INVOKE_AUTH_CACHE
        now = time.monotonic()
        digest = hash_key(key)
        hit = self._cache.get(digest)
        if hit is not None and hit.until > now and _unexpired(hit.token):
            return hit.user, hit
        user, token = super().check_key(key)
        if ttl > 0:
            entry = _Cached(user, token, may_invoke(user), now + ttl)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = entry
        return user, token

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._cache.clear()


def _unexpired(token: Any) -> bool:
    return token.expires_at is None or token.expires_at > timezone.now()
