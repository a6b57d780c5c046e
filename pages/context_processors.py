"""What every page's header needs: the user's roles and a reviewer's inbox count."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.http import HttpRequest

from accounts.roles import Actor, Role, has_role, roles_of
from approvals.selectors import inbox_count

# Counting a reviewer's whole inbox on every page would grow with the catalog;
# the header counts up to this many and shows "100+" beyond.
INBOX_CAP = 100


def inbox_badge(user: Actor) -> str:
    count = inbox_count(user, INBOX_CAP)
    return f"{INBOX_CAP}+" if count > INBOX_CAP else str(count)


def registry(request: HttpRequest) -> dict[str, Any]:
    """Roles and permissions for the header and the buttons; counted only if shown."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = roles_of(user)
    reviewer = has_role(user, Role.REVIEWER)
    return {
        "user_roles": [r.label for r in Role if r.value in roles],
        "may": {
            "read": bool(roles),
            "contribute": has_role(user, Role.CONTRIBUTOR),
            "review": reviewer,
            "deploy": has_role(user, Role.DEPLOYER),
            "admin": Role.ADMIN in roles,
        },
        # A callable: the template calls it, so pages that do not show it pay nothing.
        "inbox_count": partial(inbox_badge, user) if reviewer else None,
    }
