"""Password sign-in with failures counted per account and per address."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts import throttling


class ThrottledModelBackend(ModelBackend):
    """Django's password check, refused outright (even with the right password) for
    an account or address over its limit of failures, on every sign-in form (the
    login page, the admin)."""

    def authenticate(
        self,
        request: Any,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or password is None:
            return super().authenticate(request, username, password, **kwargs)
        if throttling.sign_in_wait(request, username) is not None:
            raise PermissionDenied("Too many failed sign-ins.")  # ends authenticate()
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            throttling.sign_in_failed(request, username)
        return user
