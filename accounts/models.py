"""API tokens, stored as SHA-256 digests: the database never holds a usable key."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from common.append_only import AppendOnlyModel

TOKEN_PREFIX = "mr_"  # noqa: S105 - a label, not a secret
ACCESS_KEY_PREFIX = "MRAK"
# ``tokens``: manage API tokens and service accounts. Never given by default, so a
# token made for a pipeline cannot mint or revoke tokens.
SCOPES = ("read", "write", "review", "deploy", "invoke", "tokens")
DEFAULT_SCOPES = ("read", "write", "review", "deploy", "invoke")
TOKENS_SCOPE = "tokens"


def all_scopes() -> list[str]:
    """Kept for migration 0003; new tokens default to ``default_scopes``."""
    return list(DEFAULT_SCOPES)


def default_scopes() -> list[str]:
    return list(DEFAULT_SCOPES)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token; only its digest and a display prefix are kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What the token may do, whatever its user may do: read, write, review, deploy,
    # invoke, tokens. A request made with the token gets only the roles its scopes cover.
    scopes = models.JSONField(default=default_scopes)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def new_key() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > now
        )


class AccessKey(models.Model):
    """An AWS-style key pair for the SageMaker-compatible API (Signature Version 4).

    SigV4 needs the secret itself to check a signature, so it cannot be kept as a
    digest like a token: it is kept encrypted with a key from the settings
    (``accounts.sealing``) and shown to its owner only when issued.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    access_key_id = models.CharField(max_length=32, unique=True, editable=False)
    sealed_secret = models.TextField(editable=False)
    scopes = models.JSONField(default=default_scopes)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.access_key_id} ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def prefix(self) -> str:
        """What the audit trail shows of the key (the id is not a secret)."""
        return self.access_key_id

    @staticmethod
    def new_pair() -> tuple[str, str]:
        """A new (access key id, secret access key), shaped like AWS's."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        key_id = ACCESS_KEY_PREFIX + "".join(
            secrets.choice(alphabet) for _ in range(16)
        )
        return key_id, secrets.token_urlsafe(30)[:40]


class ServiceAccount(models.Model):
    """A non-human user for pipelines: no password, only tokens."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="service_account",
    )
    description = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"service account {self.user_id}"


class IdempotencyKey(models.Model):
    """The first answer to a create request sent with an ``Idempotency-Key`` header."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], name="accounts_idempotency_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class AuditEvent(AppendOnlyModel):
    """A security-relevant change (tokens, service accounts, roles): append-only.

    Written only by ``accounts.services``, in the transaction of the change.
    """

    class Kind(models.TextChoices):
        TOKEN_ISSUED = "token.issued", "Token issued"
        TOKEN_REVOKED = "token.revoked", "Token revoked"
        SERVICE_ACCOUNT_CREATED = "service_account.created", "Service account created"
        ROLES_CHANGED = "user.roles_changed", "Roles changed"
        ACCESS_KEY_ISSUED = "access_key.issued", "Access key issued"
        ACCESS_KEY_REVOKED = "access_key.revoked", "Access key revoked"

    kind = models.CharField(max_length=64, choices=Kind.choices, db_index=True)
    # Plain references (no constraint, no cascade): the trail outlives the users.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    subject_name = models.CharField(max_length=150, blank=True)
    # How the change was made: api, page, admin or command.
    via = models.CharField(max_length=16)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_name} by {self.actor_name or 'system'}"
