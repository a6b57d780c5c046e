"""Roles are Django groups with fixed names; these predicates are the only way to ask."""

from __future__ import annotations

from typing import Any

from django.db import models

from registry_site.errors import Forbidden


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    REVIEWER = "reviewer", "Reviewer"
    DEPLOYER = "deployer", "Deployer"
    ADMIN = "admin", "Admin"


ALL_ROLES = frozenset(Role.values)
_CACHE_ATTR = "_registry_roles"


def roles_of(user: Any) -> frozenset[str]:
    """The user's role names; one query per user object, then cached on it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        names = set(
            user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True)
        )
        if user.is_superuser:
            names.add(Role.ADMIN)
        cached = frozenset(names)
        setattr(user, _CACHE_ATTR, cached)
    return cached


def has_role(user: Any, *roles: str) -> bool:
    """True if the user holds one of ``roles``; admins hold every role."""
    held = roles_of(user)
    return Role.ADMIN in held or any(role in held for role in roles)


def can_read(user: Any) -> bool:
    return bool(roles_of(user))


def require_role(user: Any, *roles: str, action: str) -> None:
    """Raise Forbidden unless the user holds one of ``roles``."""
    if not has_role(user, *roles):
        needed = " or ".join(roles) or "admin"
        raise Forbidden(f"You need the {needed} role to {action}.")


def forget_roles(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
