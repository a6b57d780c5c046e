from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.roles import limit_to_scopes
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
        token = token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        limit_to_scopes(token.user, token.scopes)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
