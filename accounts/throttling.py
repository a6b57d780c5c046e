"""Rate limits: DRF throttles on Django's cache (Redis when ``REGISTRY_CACHE_URL`` is
set), counted in fixed windows so that each check is one cache INCR whatever the
limit.

- sign-in failures per account and per address (any password sign-in, see
  ``accounts.backends``; the login page answers 429);
- failed token authentications per address (a guessed key answers 429 once over);
- invocations per token (``POST /endpoints/{name}/invocations``).

Rates come from ``settings.REGISTRY_RATE_LIMITS`` as ``"N/s"``, ``"N/m"``, ``"N/h"``
or ``"N/d"``; None turns a limit off. The address is ``REMOTE_ADDR``, or the client
address the trusted proxies put in ``X-Forwarded-For`` (DRF's ``NUM_PROXIES``). If
the cache fails, requests go through (and it is logged): a rate limit must not take
the registry down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

from django.conf import settings
from django.http.request import HttpHeaders
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)


class Caller:
    """What DRF's throttles and authentication read of a request (META, headers,
    user and auth), for callers outside DRF: the fast path, the Open Inference
    Protocol and the SageMaker face."""

    def __init__(self, environ: dict[str, Any], user: Any = None, auth: Any = None):
        self.META, self.user, self.auth = environ, user, auth

    @property
    def headers(self) -> HttpHeaders:
        return HttpHeaders(self.META)


# Where a request signed with an access key carries the key's id (its rate limit is
# the key's, as a token's is the token's).
ACCESS_KEY = "registry.access_key"


class WindowThrottle(SimpleRateThrottle):
    """A DRF throttle whose count lives in one cache key per window."""

    num_requests: int
    duration: int

    def get_rate(self) -> str | None:
        return settings.REGISTRY_RATE_LIMITS.get(self.scope or "")

    def _key(self, ident: str) -> str:
        self.now = self.timer()
        start = self.now - self.now % self.duration
        self.window_end = start + self.duration
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        return f"throttle:{self.scope}:{digest}:{int(start)}"

    def count(self, ident: str) -> int:
        try:
            return int(self.cache.get(self._key(ident), 0))
        except Exception:
            log.warning("rate limit %s: cache unavailable", self.scope, exc_info=True)
            return 0

    def add(self, ident: str) -> int:
        key = self._key(ident)
        try:
            self.cache.add(key, 0, timeout=self.duration + 1)
            return int(self.cache.incr(key))
        except ValueError:  # expired between add and incr: a new window
            self.cache.set(key, 1, timeout=self.duration + 1)
            return 1
        except Exception:
            log.warning("rate limit %s: cache unavailable", self.scope, exc_info=True)
            return 0

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        return self.add(ident) <= self.num_requests

    def wait(self) -> float:
        """Whole seconds until the window ends (``Retry-After``)."""
        return float(max(1, math.ceil(self.window_end - self.now)))


class FailureThrottle(WindowThrottle):
    """Counts failures only: ``blocked`` looks, ``failed`` counts one."""

    def blocked(self, ident: str) -> float | None:
        """Seconds to wait when the limit is reached, else None."""
        if self.rate is None or not ident:
            return None
        return self.wait() if self.count(ident) >= self.num_requests else None

    def failed(self, ident: str) -> None:
        if self.rate is not None and ident:
            self.add(ident)


class SignInAddressThrottle(FailureThrottle):
    scope = "sign_in_address"


class SignInAccountThrottle(FailureThrottle):
    scope = "sign_in_account"


class FailedTokenThrottle(FailureThrottle):
    scope = "failed_token"


class InvocationThrottle(WindowThrottle):
    """Invocations per token (per user for a signed-in session).

    An invocation is counted once: the decision is kept in the request's WSGI
    environ, so when the fast path (``deployments.fastpath``) counted a request and
    then hands it to Django's view, the view's throttle repeats that decision
    instead of counting the request again.
    """

    scope = "invocation"
    DECIDED = "registry.invocation_throttle"

    def allow_request(self, request: Any, view: Any) -> bool:
        meta = request.META
        decided = meta.get(self.DECIDED)
        if decided is not None:
            allowed, self.now, self.window_end = decided
            return bool(allowed)
        allowed = super().allow_request(request, view)
        if hasattr(self, "window_end"):
            meta[self.DECIDED] = (allowed, self.now, self.window_end)
        return allowed

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if key := request.META.get(ACCESS_KEY):
            return f"access-key:{key}"
        token = getattr(request.auth, "token", request.auth)
        if getattr(token, "pk", None) is not None:
            return f"token:{token.pk}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return None


def _sign_in(request: Any, username: str | None) -> list[tuple[FailureThrottle, str]]:
    address = SignInAddressThrottle()
    return [
        (address, address.get_ident(request) or ""),
        (SignInAccountThrottle(), (username or "").strip().lower()),
    ]


def sign_in_wait(request: Any, username: str | None) -> float | None:
    """Seconds until sign-in may be tried again for this account or address, or None."""
    waits = [t.blocked(ident) for t, ident in _sign_in(request, username)]
    return max((w for w in waits if w is not None), default=None)


def sign_in_failed(request: Any, username: str | None) -> None:
    for throttle, ident in _sign_in(request, username):
        throttle.failed(ident)


def token_failures_wait(request: Any) -> float | None:
    """Seconds until this address may try a token again, or None."""
    throttle = FailedTokenThrottle()
    return throttle.blocked(throttle.get_ident(request) or "")


def token_failed(request: Any) -> None:
    throttle = FailedTokenThrottle()
    throttle.failed(throttle.get_ident(request) or "")
