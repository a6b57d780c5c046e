"""How the stock MLflow client signs its requests, mapped onto our credentials.

``MLFLOW_TRACKING_TOKEN`` arrives as ``Authorization: Bearer <key>``: one of our API
tokens, checked (and remembered) exactly as ``Authorization: Token <key>`` on
``/api/v1/``, scopes included. ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` arrive as
HTTP Basic: a user's password, checked by the same throttled sign-in backend as the
login page; like a session, it carries every role of the user.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authentication import BasicAuthentication as DrfBasic

from accounts.authentication import TokenAuthentication


class BearerAuthentication(TokenAuthentication):
    keyword = "Bearer"


class BasicAuthentication(DrfBasic):
    """HTTP Basic through the sign-in backend, remembered briefly.

    The client signs every request with the password, and checking one costs a
    deliberately slow hash. So a web process remembers a pair that passed for
    ``REGISTRY_AUTH_CACHE`` seconds, keyed by an HMAC of both, together with the
    user's password hash at the time: a changed password or a deactivated user
    takes effect at once.
    """

    www_authenticate_realm = "mlflow"
    _cache: ClassVar[dict[str, tuple[int, str, float]]] = {}
    _lock = threading.Lock()

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, Any]:
        key = hmac.new(
            settings.SECRET_KEY.encode(),
            f"{userid}\0{password}".encode(),
            hashlib.sha256,
        ).hexdigest()
        hit, now = self._cache.get(key), time.monotonic()
        if hit is not None and hit[2] > now:
            user = get_user_model().objects.filter(pk=hit[0], is_active=True).first()
            if user is not None and hmac.compare_digest(user.password, hit[1]):
                return user, None
        user, auth = super().authenticate_credentials(userid, password, request)
        ttl = settings.REGISTRY_AUTH_CACHE
        if ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (user.pk, user.password, now + ttl)
        return user, auth

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._cache.clear()
