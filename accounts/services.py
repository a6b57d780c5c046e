"""API tokens (stored hashed, scoped, expiring), service accounts and roles.

Every change here that matters for security (a token issued or revoked, a service
account created, roles changed) writes an append-only ``AuditEvent`` in the same
transaction; nothing else writes them.

A request made with a token manages tokens and service accounts only if the token
holds the ``tokens`` scope, and it never issues a token with a scope it lacks or one
that outlives it. The caller's token comes with ``actor`` (see ``roles.token_of``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, connection, transaction
from django.db.models import Aggregate, CharField, OuterRef, Subquery
from django.utils import timezone

from accounts import sealing
from accounts.models import (
    DEFAULT_SCOPES,
    SCOPES,
    TOKENS_SCOPE,
    AccessKey,
    ApiToken,
    AuditEvent,
    ServiceAccount,
    hash_key,
)
from accounts.roles import (
    ALL_ROLES,
    Actor,
    Role,
    forget_roles,
    limit_to_scopes,
    remember_role_groups,
    require_role,
    token_of,
)
from common import changes
from common.errors import Conflict, Forbidden, Invalid

# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _scopes(scopes: Iterable[str] | None) -> list[str]:
    if scopes is None:
        return list(DEFAULT_SCOPES)
    if isinstance(scopes, str) or not all(isinstance(s, str) for s in scopes):
        raise Invalid.on("scopes", "Must be a list of scope names.")
    chosen = (
        sorted(set(scopes), key=SCOPES.index) if set(scopes) <= set(SCOPES) else None
    )
    if not chosen:
        message = f"Choose one or more of {', '.join(SCOPES)}."
        raise Invalid.on("scopes", message)
    return chosen


def _audit(
    kind: str, *, actor: Actor | None, subject: Any, via: str, **payload: Any
) -> AuditEvent:
    """Record a security-relevant change (call inside the change's transaction)."""
    caller = token_of(actor)
    if caller is not None:
        payload["token"] = caller.prefix
    acting = actor if actor is not None and actor.pk else None
    return AuditEvent.objects.create(
        kind=kind,
        actor=acting,
        actor_name=acting.get_username() if acting else "",
        subject=subject,
        subject_name=subject.get_username() if subject else "",
        via=via,
        payload=payload,
    )


def _require_token_management(actor: Actor, *, action: str) -> None:
    """A request made with a token needs the ``tokens`` scope to manage tokens."""
    caller = token_of(actor)
    if caller is not None and TOKENS_SCOPE not in caller.scopes:
        raise Forbidden(
            f"A token needs the {TOKENS_SCOPE!r} scope to {action}; "
            "sign in, or use a token that holds it."
        )


def _within_caller(
    actor: Actor | None, scopes: list[str], expires_at: datetime | None
) -> datetime | None:
    """A token issues only tokens with its own scopes that do not outlive it.

    Returns the expiry to use: the caller token's when none was asked for.
    """
    caller = token_of(actor)
    if caller is None:
        return expires_at
    missing = [scope for scope in scopes if scope not in caller.scopes]
    if missing:
        message = (
            "A token can only issue tokens with its own scopes; "
            f"this one lacks {', '.join(missing)}."
        )
        raise Forbidden.on("scopes", message)
    if caller.expires_at is None:
        return expires_at
    if expires_at is None:
        return caller.expires_at
    if expires_at > caller.expires_at:
        message = "Cannot outlive the token that issues it."
        raise Forbidden.on("expires_at", message)
    return expires_at


@transaction.atomic
def token_issue(
    *,
    user: User,
    name: str = "",
    expires_at: datetime | None = None,
    scopes: Iterable[str] | None = None,
    actor: Actor | None = None,
    via: str = "system",
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the key, shown only this once.

    ``actor`` (when given) must be the user or an admin; when it acts with a token,
    see the module's rule.
    """
    if actor is not None:
        _require_token_management(actor, action="issue tokens")
        if actor.pk != user.pk:
            require_role(actor, Role.ADMIN, action="issue tokens for other users")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid.on("expires_at", "Must be in the future.")
    chosen = _scopes(scopes)
    expires_at = _within_caller(actor, chosen, expires_at)
    key = ApiToken.new_key()
    token = ApiToken(
        user=user,
        name=name[:100],
        prefix=key[:10],
        digest=hash_key(key),
        expires_at=expires_at,
        scopes=chosen,
    )
    token.full_clean()
    token.save()
    _audit(
        AuditEvent.Kind.TOKEN_ISSUED,
        actor=actor,
        subject=user,
        via=via,
        token_id=token.pk,
        prefix=token.prefix,
        scopes=chosen,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
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


def _revoke(
    credential: ApiToken | AccessKey,
    kind: str,
    *,
    actor: Actor | None,
    via: str,
    **details: Any,
) -> None:
    """Mark ``credential`` revoked unless it already is (a conditional UPDATE, so two
    revocations write one audit row), then refresh it; the caller checked permission."""
    revoked = (
        type(credential)
        .objects.filter(pk=credential.pk, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )
    credential.refresh_from_db()
    if revoked:
        # Serving processes forget remembered credentials at once (common.changes).
        changes.announce()
        _audit(kind, actor=actor, subject=credential.user, via=via, **details)


@transaction.atomic
def token_revoke(
    *, token: ApiToken, actor: Actor | None = None, via: str = "system"
) -> ApiToken:
    """Revoke a token; revoking a revoked token changes nothing.

    A token may always revoke itself; revoking another needs token management.
    """
    if actor is not None:
        caller = token_of(actor)
        if caller is None or caller.pk != token.pk:
            _require_token_management(actor, action="revoke tokens")
        if actor.pk != token.user_id:
            require_role(actor, Role.ADMIN, action="revoke other users' tokens")
    _revoke(
        token,
        AuditEvent.Kind.TOKEN_REVOKED,
        actor=actor,
        via=via,
        token_id=token.pk,
        prefix=token.prefix,
    )
    return token


# --- Access keys (SigV4, for the SageMaker-compatible API) ----------------------------
# Issued and revoked under the rules of tokens: a request made with a token needs the
# ``tokens`` scope, and a key never gets a scope that the calling token lacks.


@transaction.atomic
def access_key_issue(
    *,
    actor: Actor,
    name: str = "",
    scopes: Iterable[str] | None = None,
    via: str = "system",
) -> tuple[AccessKey, str]:
    """Create an access key pair for the actor; returns the row and the secret access
    key, shown only this once (the row keeps it encrypted)."""
    if not actor.is_authenticated:
        raise Forbidden("Sign in to create access keys.")
    user = actor
    _require_token_management(actor, action="create access keys")
    if not isinstance(name, str):
        raise Invalid.on("name", "Must be a string.")
    chosen = _scopes(scopes)
    _within_caller(actor, chosen, None)
    key_id, secret = AccessKey.new_pair()
    key = AccessKey(
        user=user,
        name=name[:100],
        access_key_id=key_id,
        sealed_secret=sealing.seal(secret),
        scopes=chosen,
    )
    key.full_clean()
    key.save()
    _audit(
        AuditEvent.Kind.ACCESS_KEY_ISSUED,
        actor=actor,
        subject=user,
        via=via,
        access_key=key.pk,
        access_key_id=key_id,
        scopes=chosen,
    )
    return key, secret


@transaction.atomic
def access_key_revoke(
    *, key: AccessKey, actor: Actor | None = None, via: str = "system"
) -> AccessKey:
    """Revoke an access key; revoking a revoked key changes nothing."""
    if actor is not None:
        _require_token_management(actor, action="revoke access keys")
        if actor.pk != key.user_id:
            require_role(actor, Role.ADMIN, action="revoke other users' access keys")
    _revoke(
        key,
        AuditEvent.Kind.ACCESS_KEY_REVOKED,
        actor=actor,
        via=via,
        access_key=key.pk,
        access_key_id=key.access_key_id,
    )
    return key


@dataclass
class AccessKeyMatch:
    """An active access key's user (roles narrowed to its scopes) and its secret."""

    key_id: int
    user: Any
    secret: str


def access_key_authenticate(access_key_id: str) -> AccessKeyMatch | None:
    """The user and secret of the active access key ``access_key_id`` (to check a
    signature with), or None. The user's roles are narrowed to the key's scopes."""
    key = (
        AccessKey.objects.select_related("user")
        .annotate(role_groups=_role_groups())
        .filter(access_key_id=access_key_id)
        .first()
    )
    if key is None or not key.is_active or not key.user.is_active:
        return None
    secret = sealing.unseal(key.sealed_secret)
    if secret is None:
        return None
    user = key.user
    remember_role_groups(user, key.role_groups)  # type: ignore[attr-defined]
    limit_to_scopes(user, key.scopes)
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        AccessKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return AccessKeyMatch(key.pk, user, secret)


def access_key_still_active(key_id: int) -> bool:
    """Unrevoked, its user active: one small hand-written query (nothing to
    compile), for a face that remembers keys."""
    user_table = get_user_model()._meta.db_table
    sql = (
        f"SELECT 1 FROM {AccessKey._meta.db_table} k JOIN {user_table} u "  # noqa: S608
        "ON u.id = k.user_id WHERE k.id = %s AND k.revoked_at IS NULL AND u.is_active"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_id])
        return cursor.fetchone() is not None


@transaction.atomic
def service_account_create(
    *,
    actor: Actor,
    username: str,
    roles: Iterable[str],
    description: str = "",
    via: str = "system",
) -> Any:
    """A user for pipelines, with the given roles and no password (admins only)."""
    actor = require_role(actor, Role.ADMIN, action="create service accounts")
    _require_token_management(actor, action="create service accounts")
    roles = list(roles)
    unknown = sorted(set(roles) - ALL_ROLES)
    if unknown:
        message = f"Unknown role(s) {', '.join(unknown)}."
        raise Invalid.on("roles", message)
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
    _audit(
        AuditEvent.Kind.SERVICE_ACCOUNT_CREATED,
        actor=actor,
        subject=user,
        via=via,
        roles=sorted(roles),
    )
    return user


def _role_names(user: Actor) -> set[str]:
    return set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))


@transaction.atomic
def user_roles_set(
    *,
    actor: Actor | None,
    user: User,
    roles: Iterable[str] | None,
    via: str,
    superuser: bool | None = None,
) -> Any:
    """Give ``user`` exactly ``roles`` (None: keep them) and, when given, the
    superuser flag; other groups stay. Audited when anything changed.

    ``actor`` None is the command line; anyone else must be an admin.
    """
    if actor is not None:
        require_role(actor, Role.ADMIN, action="change roles")
    wanted = None if roles is None else set(roles)
    unknown = sorted((wanted or set()) - ALL_ROLES)
    if unknown:
        message = f"Unknown role(s) {', '.join(unknown)}."
        raise Invalid.on("roles", message)
    model = get_user_model()
    locked = model.objects.select_for_update().get(pk=user.pk)  # one change at a time
    before, was_superuser = _role_names(locked), locked.is_superuser
    after = before if wanted is None else wanted
    if after != before:
        keep = list(locked.groups.exclude(name__in=ALL_ROLES))
        groups = [Group.objects.get_or_create(name=role)[0] for role in sorted(after)]
        locked.groups.set(keep + groups)
    is_superuser = was_superuser if superuser is None else superuser
    if is_superuser != was_superuser:
        model.objects.filter(pk=user.pk).update(is_superuser=is_superuser)
    user.is_superuser = is_superuser
    forget_roles(user)
    if after != before or is_superuser != was_superuser:
        changes: dict[str, Any] = {"from": sorted(before), "to": sorted(after)}
        if is_superuser != was_superuser:
            changes["superuser"] = is_superuser
        _audit(
            AuditEvent.Kind.ROLES_CHANGED, actor=actor, subject=user, via=via, **changes
        )
    return user
