"""Reads of API tokens, scoped to who asks."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import TOKENS_SCOPE, AccessKey, ApiToken
from accounts.roles import Actor, Role, has_role, token_scopes
from common.errors import Forbidden


def tokens_visible(*, actor: Actor, username: str | None = None) -> QuerySet[ApiToken]:
    """The actor's own tokens; an admin's view is everyone's (``username`` narrows)."""
    tokens = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    if has_role(actor, Role.ADMIN):
        return tokens.filter(user__username=username) if username else tokens
    return tokens.filter(user_id=actor.pk or 0)


def token_list(*, actor: Actor, username: str | None = None) -> QuerySet[ApiToken]:
    """``tokens_visible`` to list or show: a token needs ``read`` or ``tokens``."""
    scopes = token_scopes(actor)
    if scopes is not None and not scopes & {"read", TOKENS_SCOPE}:
        raise Forbidden(f"A token needs the 'read' or {TOKENS_SCOPE!r} scope here.")
    return tokens_visible(actor=actor, username=username)


def access_keys_visible(*, actor: Actor) -> QuerySet[AccessKey]:
    """The actor's own access keys; an admin's view is everyone's."""
    keys = AccessKey.objects.select_related("user").order_by("-created_at", "-id")
    if has_role(actor, Role.ADMIN):
        return keys
    return keys.filter(user_id=actor.pk or 0)


def access_key_list(*, actor: Actor) -> QuerySet[AccessKey]:
    """``access_keys_visible`` to list or show: a token needs ``read`` or ``tokens``."""
    scopes = token_scopes(actor)
    if scopes is not None and not scopes & {"read", TOKENS_SCOPE}:
        raise Forbidden(f"A token needs the 'read' or {TOKENS_SCOPE!r} scope here.")
    return access_keys_visible(actor=actor)
