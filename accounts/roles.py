"""Roles are Django groups with fixed names; these predicates are the only way to ask."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

from django.db import models

from common.errors import Forbidden

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# Who makes a request or calls a service: a user, or the anonymous user of a
# request that is not signed in (``require_role`` refuses it).
Actor: TypeAlias = "User | AnonymousUser"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    REVIEWER = "reviewer", "Reviewer"
    DEPLOYER = "deployer", "Deployer"
    ADMIN = "admin", "Admin"


ALL_ROLES = frozenset(Role.values)
_CACHE_ATTR = "_registry_roles"


# What each role needs from the token that a request was made with.
SCOPE_OF_ROLE: dict[str, str] = {
    Role.VIEWER: "read",
    Role.CONTRIBUTOR: "write",
    Role.REVIEWER: "review",
    Role.DEPLOYER: "deploy",
}
_SCOPES_ATTR = "_registry_token_scopes"
_TOKEN_ATTR = "_registry_token"  # noqa: S105 - an attribute name
_GROUPS_ATTR = "_registry_role_groups"


def remember_role_groups(user: Actor, names: str | None) -> None:
    """Role group names fetched along with the user (comma-separated), saving a query."""
    setattr(user, _GROUPS_ATTR, frozenset(filter(None, (names or "").split(","))))


def limit_to_scopes(user: Actor, scopes: list[str]) -> None:
    """Requests made with a token get only the roles that its scopes cover."""
    setattr(user, _SCOPES_ATTR, frozenset(scopes))
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def token_scopes(user: Actor | None) -> frozenset[str] | None:
    return getattr(user, _SCOPES_ATTR, None)


def remember_token(user: Actor, token: Any) -> None:
    """The token a request was made with: limits its roles and what it may issue."""
    limit_to_scopes(user, token.scopes)
    setattr(user, _TOKEN_ATTR, token)


def token_of(user: Actor | None) -> Any:
    """The token the request was made with (an ``ApiToken``), or None for a session."""
    return getattr(user, _TOKEN_ATTR, None)


def roles_of(user: Actor | None) -> frozenset[str]:
    """The user's role names (narrowed by the token's scopes); one query per user
    object, then cached on it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        names = set(_role_groups(user))
        if user.is_superuser:
            names.add(Role.ADMIN)
        cached = _narrow(frozenset(names), token_scopes(user))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def _role_groups(user: Actor) -> frozenset[str]:
    """The user's role group names, whatever the token's scopes: remembered when
    they came with the token's query, else one query, then kept on the user."""
    known = getattr(user, _GROUPS_ATTR, None)
    if known is None:
        known = frozenset(
            user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True)
        )
        setattr(user, _GROUPS_ATTR, known)
    return known


def _narrow(held: frozenset[str], scopes: frozenset[str] | None) -> frozenset[str]:
    if scopes is None:
        return held
    expanded = ALL_ROLES if Role.ADMIN in held else held
    narrowed = {r for r in expanded if r != Role.ADMIN and SCOPE_OF_ROLE[r] in scopes}
    if Role.ADMIN in held and set(SCOPE_OF_ROLE.values()) <= scopes:
        narrowed.add(Role.ADMIN)
    if held and "read" in scopes:
        narrowed.add(Role.VIEWER)  # every role can read
    return frozenset(narrowed)


def may_invoke(user: Actor) -> bool:
    """Call endpoints: any registry role or the invoke permission, and the token's
    ``invoke`` scope when the request carries a token."""
    scopes = token_scopes(user)
    if scopes is not None and "invoke" not in scopes:
        return False
    if scopes is not None and (_role_groups(user) or user.is_superuser):
        return True
    return can_read(user) or user.has_perm("deployments.invoke_endpoint")


def scopes_allowed(user: Actor) -> list[str]:
    """The token scopes the user's roles give meaning to, in ``SCOPES`` order: a
    token never does more than its user's roles, so the page offers no others."""
    held = roles_of(user)
    if not held and not user.is_authenticated:
        return []
    everything = Role.ADMIN in held
    allowed = {
        scope
        for role, scope in SCOPE_OF_ROLE.items()
        if everything or role in held or (held and scope == "read")
    }
    if may_invoke(user):
        allowed.add("invoke")
    allowed.add("tokens")
    order = ("read", "write", "review", "deploy", "invoke", "tokens")
    return [scope for scope in order if scope in allowed]


def has_role(user: Actor | None, *roles: str) -> TypeGuard[User]:
    """True if the user holds one of ``roles``; admins hold every role (and a user
    who holds a role is signed in)."""
    held = roles_of(user)
    return Role.ADMIN in held or any(role in held for role in roles)


def can_read(user: Actor | None) -> bool:
    return bool(roles_of(user))


def require_role(user: Actor | None, *roles: str, action: str) -> User:
    """Raise Forbidden unless the user holds one of ``roles``; returns the user, now
    known to be signed in (the type that a row referring to a user needs)."""
    if not has_role(user, *roles):
        needed = " or ".join(roles) or "admin"
        raise Forbidden(f"You need the {needed} role to {action}.")
    return user


def forget_roles(user: Actor) -> None:
    """Drop what this user object remembers of its roles (after they changed)."""
    for attr in (_CACHE_ATTR, _GROUPS_ATTR):
        if hasattr(user, attr):
            delattr(user, attr)
