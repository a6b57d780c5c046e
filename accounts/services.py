"""API tokens (stored hashed, scoped, expiring) and service accounts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Aggregate, CharField, OuterRef, Subquery
from django.utils import timezone

from accounts.models import SCOPES, ApiToken, ServiceAccount, hash_key
from accounts.roles import (
    ALL_ROLES,
    Role,
    forget_roles,
    remember_role_groups,
    require_role,
)
from registry_site.errors import Conflict, Forbidden, Invalid

# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _scopes(scopes: Iterable[str] | None) -> list[str]:
    if scopes is None:
        return list(SCOPES)
    if isinstance(scopes, str) or not all(isinstance(s, str) for s in scopes):
        raise Invalid(
            "scopes: Must be a list of scope names.",
            fields={"scopes": "Must be a list of scope names."},
        )
    chosen = (
        sorted(set(scopes), key=SCOPES.index) if set(scopes) <= set(SCOPES) else None
    )
    if not chosen:
        message = f"Choose one or more of {', '.join(SCOPES)}."
        raise Invalid(f"scopes: {message}", fields={"scopes": message})
    return chosen


@transaction.atomic
def token_issue(
    *,
    user: Any,
    name: str = "",
    expires_at: datetime | None = None,
    scopes: Iterable[str] | None = None,
    actor: Any = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the key, shown only this once.

    ``actor`` (when given) must be the user or an admin.
    """
    if actor is not None and actor.pk != user.pk:
        require_role(actor, Role.ADMIN, action="issue tokens for other users")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid(
            "expires_at: Must be in the future.",
            fields={"expires_at": "Must be in the future."},
        )
    key = ApiToken.new_key()
    token = ApiToken(
        user=user,
        name=name[:100],
        prefix=key[:10],
        digest=hash_key(key),
        expires_at=expires_at,
        scopes=_scopes(scopes),
    )
    token.full_clean()
    token.save()
    return token, key


class _JoinNames(Aggregate):
    """The names, comma-separated (STRING_AGG on PostgreSQL, GROUP_CONCAT on SQLite)."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra)


def _role_groups() -> Subquery:
    """The token user's role group names, fetched in the token's own query."""
    memberships = get_user_model().groups.through.objects.filter(
        user_id=OuterRef("user_id"), group__name__in=ALL_ROLES
    )
    return Subquery(
        memberships.values("user_id")  # type: ignore[misc]
        .annotate(names=_JoinNames("group__name"))
        .values("names")[:1]
    )


def token_authenticate(key: str) -> ApiToken | None:
    """The active token for ``key``, or None; records when it was last used."""
    token = (
        ApiToken.objects.select_related("user")
        .annotate(role_groups=_role_groups())
        .filter(digest=hash_key(key))
        .first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    remember_role_groups(token.user, token.role_groups)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken, actor: Any = None) -> ApiToken:
    """Revoke a token; revoking a revoked token changes nothing."""
    if actor is not None and actor.pk != token.user_id:
        require_role(actor, Role.ADMIN, action="revoke other users' tokens")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    return token


@transaction.atomic
def service_account_create(
    *, actor: Any, username: str, roles: Iterable[str], description: str = ""
) -> Any:
    """A user for pipelines, with the given roles and no password (admins only)."""
    require_role(actor, Role.ADMIN, action="create service accounts")
    roles = list(roles)
    unknown = sorted(set(roles) - ALL_ROLES)
    if unknown:
        message = f"Unknown role(s) {', '.join(unknown)}."
        raise Invalid(f"roles: {message}", fields={"roles": message})
    if Role.ADMIN in roles:
        raise Forbidden("Service accounts cannot be admins.")
    user = get_user_model()(username=username)
    user.set_unusable_password()
    user.full_clean(exclude=["password"], validate_unique=False)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict(
            f"A user named {username!r} already exists.",
            fields={"username": "Already taken."},
        ) from exc
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
    forget_roles(user)
    ServiceAccount.objects.create(
        user=user, description=description[:500], created_by=actor
    )
    return user
