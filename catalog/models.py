"""Model groups, their numbered versions, aliases, metrics and the event log."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from common.append_only import AppendOnlyModel

NAME_RE = r"^[A-Za-z0-9](?:-?[A-Za-z0-9])*\Z"
NAME_HELP = (
    "1 to 63 characters: ASCII letters and digits, with single hyphens inside "
    "(no leading, trailing or double hyphens)."
)
name_validator = RegexValidator(NAME_RE, NAME_HELP, code="invalid_name")


class EventKind(models.TextChoices):
    """Every kind of Event the registry writes (the outbox and webhooks offer these)."""

    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_PICKLE_POLICY = "group.pickle_policy"
    GROUP_RENAMED = "group.renamed"
    GROUP_PROTECTED_ALIASES = "group.protected_aliases"
    GROUP_SIGNATURE_POLICY = "group.signature_policy"
    GROUP_TRUSTED_KEY_ADDED = "group.trusted_key_added"
    GROUP_TRUSTED_KEY_REMOVED = "group.trusted_key_removed"
    VERSION_REGISTERED = "version.registered"
    VERSION_UPDATED = "version.updated"
    VERSION_DELETED = "version.deleted"
    VERSION_CHECKED = "version.checked"  # a deferred artifact check passed: Ready
    VERSION_CHECK_FAILED = "version.check_failed"
    VERSION_STAGE = "version.stage"
    ALIAS_SET = "alias.set"
    ALIAS_DELETED = "alias.deleted"
    REVIEW_SUBMITTED = "review.submitted"
    VERSION_APPROVED = "version.approved"
    VERSION_REJECTED = "version.rejected"
    VERSION_RESUBMITTED = "version.resubmitted"
    VERSION_RECERTIFIED = "version.recertified"  # a new approval restarts the clock
    VERSION_APPROVAL_EXPIRED = "version.approval_expired"
    POLICY_UPDATED = "policy.updated"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_UPDATED = "webhook.updated"
    WEBHOOK_DELETED = "webhook.deleted"
    ENDPOINT_CREATED = "endpoint.created"
    ENDPOINT_UPDATED = "endpoint.updated"
    ENDPOINT_DELETED = "endpoint.deleted"
    ENDPOINT_STOPPED = "endpoint.stopped"
    DEPLOYMENT_QUEUED = "deployment.queued"
    DEPLOYMENT_RUNNING = "deployment.running"
    DEPLOYMENT_RETRYING = "deployment.retrying"
    DEPLOYMENT_SUCCEEDED = "deployment.succeeded"
    DEPLOYMENT_FAILED = "deployment.failed"
    DEPLOYMENT_SUPERSEDED = "deployment.superseded"
    DEPLOYMENT_CANCELLED = "deployment.cancelled"
    EVALUATION_SET_CREATED = "evaluation_set.created"
    VERSION_EVALUATED = "version.evaluated"
    VERSION_EVALUATION_FAILED = "version.evaluation_failed"


class ApprovalStatus(models.TextChoices):
    PENDING = "PendingManualApproval", "Pending manual approval"
    APPROVED = "Approved", "Approved"
    REJECTED = "Rejected", "Rejected"


# Named groups of kinds that handlers and checks reuse.
EVENT_KINDS = frozenset(EventKind)  # what a webhook may subscribe to
# The kinds that set a version's approval status (and the status each leaves).
STATUS_AFTER: dict[str, ApprovalStatus] = {
    EventKind.VERSION_REGISTERED: ApprovalStatus.PENDING,
    EventKind.VERSION_APPROVED: ApprovalStatus.APPROVED,
    EventKind.VERSION_REJECTED: ApprovalStatus.REJECTED,
    EventKind.VERSION_RESUBMITTED: ApprovalStatus.PENDING,
}
VERSION_STATUS_KINDS = frozenset(STATUS_AFTER)
REVIEW_REQUEST_KINDS = frozenset(
    {
        EventKind.VERSION_REGISTERED,  # unless its check is deferred: then
        EventKind.VERSION_CHECKED,  # once the check passed
        EventKind.VERSION_RESUBMITTED,
    }
)  # a version now waits for reviewers
REVIEW_DECISION_KINDS = frozenset(
    {EventKind.VERSION_APPROVED, EventKind.VERSION_REJECTED}
)


class RegistrationStatus(models.TextChoices):
    """The artifact check: a version is Ready once its bytes passed the format check."""

    PENDING = "Pending", "Pending"
    READY = "Ready", "Ready"
    FAILED = "Failed", "Failed"
    # Recorded without bytes (a client named a model it keeps elsewhere): it can be
    # reviewed, never deployed.
    ABSENT = "Absent", "Absent"


class Stage(models.TextChoices):
    """MLflow's (deprecated, still used) stages; Staging and Production need approval."""

    NONE = "None", "None"
    STAGING = "Staging", "Staging"
    PRODUCTION = "Production", "Production"
    ARCHIVED = "Archived", "Archived"


STAGES_NEEDING_APPROVAL = frozenset({Stage.STAGING, Stage.PRODUCTION})
DEFAULT_PROTECTED_ALIASES = ("champion", "production")


def default_protected_aliases() -> list[str]:
    return list(DEFAULT_PROTECTED_ALIASES)


class ArtifactFormat(models.TextChoices):
    ONNX = "onnx", "ONNX"
    SKOPS = "skops", "skops"
    PICKLE = "pickle", "pickle"
    JOBLIB = "joblib", "joblib"


class ModelGroup(models.Model):
    """A problem to solve, holding every trained version of its model."""

    name = models.CharField(
        max_length=63, unique=True, validators=[name_validator], help_text=NAME_HELP
    )
    description = models.TextField(blank=True, max_length=10_000)
    tags = models.JSONField(default=dict, blank=True)
    # Allocates version numbers: bumped in the registering transaction, never lowered.
    next_version = models.PositiveIntegerField(default=1, editable=False)
    # Allocates evaluation set numbers the same way.
    next_evaluation_set = models.PositiveIntegerField(default=1, editable=False)
    allow_pickle = models.BooleanField(
        default=False,
        help_text="Accept pickle/joblib artifacts for this group. Pickle files run "
        "arbitrary code when loaded: allow only for trusted producers.",
    )
    require_model_signature = models.BooleanField(
        default=False,
        help_text="Refuse uploads without a model-signing signature from a key this "
        "group trusts (admins set it).",
    )
    # Aliases that only an Approved version may carry (admins edit the list).
    protected_aliases = models.JSONField(default=default_protected_aliases, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, db_index=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="catalog_group_name_ci_unique",
                violation_error_message="A model group with this name already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SignatureStatus(models.TextChoices):
    """What checking an upload's OpenSSF model-signing signature found."""

    ABSENT = "absent", "No signature"
    VERIFIED = "verified", "Verified by a trusted key"
    UNTRUSTED = "untrusted", "Not from a trusted key"
    INVALID = "invalid", "Does not match the model file"


class ModelVersion(models.Model):
    """One trained model: its artifact, metadata and approval status."""

    group = models.ForeignKey(
        ModelGroup, on_delete=models.PROTECT, related_name="versions"
    )
    version = models.PositiveIntegerField(editable=False)
    description = models.TextField(blank=True, max_length=10_000)
    # Written only by the approvals service, by compare-and-set.
    approval_status = models.CharField(
        max_length=32,
        choices=ApprovalStatus.choices,
        default=ApprovalStatus.PENDING,
        editable=False,
        db_index=True,
    )
    registration_status = models.CharField(
        max_length=16,
        choices=RegistrationStatus.choices,
        default=RegistrationStatus.PENDING,
        editable=False,
    )
    # Why the artifact's check failed (registration_status Failed).
    registration_error = models.TextField(blank=True, editable=False)
    # The deferred check of a large artifact: claimed by a worker with a lease.
    check_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    check_lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Empty when the version was recorded without its files (``artifact_absent``).
    artifact_key = models.CharField(max_length=255, editable=False)
    artifact_sha256 = models.CharField(max_length=64, editable=False)
    artifact_size = models.BigIntegerField(editable=False)
    artifact_format = models.CharField(
        max_length=16, choices=ArtifactFormat.choices, editable=False
    )
    # A folder artifact (an MLflow model): its files as [{path, size, sha256, key}],
    # and one SHA-256 over the paths, sizes and digests. The ``artifact_*`` fields
    # above then describe the model file ``MLmodel`` names. Empty for a single file.
    artifact_manifest = models.JSONField(default=list, blank=True, editable=False)
    manifest_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # The client's file name: inert text, never used to build a path.
    artifact_filename = models.CharField(max_length=255, blank=True, editable=False)
    # Where the producer says the files are (an MLflow ``source``): inert text,
    # never opened or fetched by the server.
    source_uri = models.CharField(max_length=2048, blank=True, editable=False)
    run_id = models.CharField(max_length=256, blank=True, editable=False)
    # Written only by ``catalog.services.version_stage_set``.
    stage = models.CharField(
        max_length=16, choices=Stage.choices, default=Stage.NONE, editable=False
    )
    metrics = models.JSONField(default=dict, blank=True, editable=False)
    # What the registry measured on an evaluation set (``catalog.evaluation``), kept
    # apart from the reported ``metrics``: {name: {value, evaluation_set, sha256}}.
    computed_metrics = models.JSONField(default=dict, blank=True, editable=False)
    hyperparameters = models.JSONField(default=dict, blank=True)
    customer_metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    lineage = models.JSONField(default=dict, blank=True)
    sample_payload = models.JSONField(null=True, blank=True)
    input_schema = models.JSONField(null=True, blank=True)
    output_schema = models.JSONField(null=True, blank=True)
    model_card = models.TextField(blank=True, max_length=100_000)
    # The OpenSSF model-signing signature uploaded with the artifact, as checked
    # against the group's trusted keys when the version was registered.
    signature_status = models.CharField(
        max_length=16,
        choices=SignatureStatus.choices,
        default=SignatureStatus.ABSENT,
        editable=False,
    )
    signature_key = models.CharField(max_length=100, blank=True, editable=False)
    signature_bundle = models.JSONField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, db_index=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "version"],
                name="catalog_version_unique_per_group",
                violation_error_message="This version number is taken in the group.",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="catalog_version_positive"
            ),
        ]
        indexes = [
            models.Index(
                fields=["group", "approval_status", "-version"],
                name="catalog_ver_group_status",
            ),
            models.Index(
                fields=["group", "stage", "-version"], name="catalog_ver_group_stage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group.name} v{self.version}"

    @property
    def is_approved(self) -> bool:
        return self.approval_status == ApprovalStatus.APPROVED

    @property
    def has_verified_bytes(self) -> bool:
        """Its model file was stored and passed the format check (deployable)."""
        return self.registration_status == RegistrationStatus.READY

    @property
    def is_folder(self) -> bool:
        """Its artifact is a folder of files with a manifest (an MLflow model)."""
        return bool(self.manifest_sha256)

    @property
    def artifact_absent(self) -> bool:
        """Recorded without a model file: nothing to load or deploy."""
        return self.registration_status == RegistrationStatus.ABSENT


class Metric(models.Model):
    """One metric of a version, as a row so that thresholds and ordering use an index."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="metric_rows"
    )
    # Copied from the version so that "accuracy >= 0.9 within group G" is one index
    # range, whatever the size of the rest of the catalog.
    group = models.ForeignKey(
        ModelGroup,
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        db_index=False,
    )
    name = models.CharField(max_length=64)
    value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "name"], name="catalog_metric_unique"
            )
        ]
        indexes = [
            models.Index(fields=["name", "value"], name="catalog_metric_name_value"),
            models.Index(
                fields=["group", "name", "value"], name="catalog_metric_group_value"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Alias(models.Model):
    """A movable named pointer (``champion``, ``staging``) to one version of a group."""

    RESERVED = frozenset({"latest"})

    group = models.ForeignKey(
        ModelGroup, on_delete=models.CASCADE, related_name="aliases"
    )
    name = models.CharField(max_length=63, validators=[name_validator])
    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="aliases"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "name"], name="catalog_alias_unique"
            )
        ]
        verbose_name_plural = "aliases"

    def __str__(self) -> str:
        return f"{self.group_id}@{self.name}"


class Event(AppendOnlyModel):
    """The audit trail and outbox: one row per change, written in the change's transaction."""

    kind = models.CharField(max_length=64, db_index=True)
    # Plain references (no constraint, no cascade): the trail outlives what it describes.
    group = models.ForeignKey(
        ModelGroup,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    group_name = models.CharField(max_length=63, blank=True)
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    version_number = models.PositiveIntegerField(null=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The writing transaction's id on PostgreSQL (0 on SQLite, where writers are
    # serialised): the event feed orders by (txid, id) so no event is ever skipped.
    txid = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["group_name", "-id"], name="catalog_event_group"),
            models.Index(fields=["txid", "id"], name="catalog_event_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.group_name} v{self.version_number or '-'}"


class HandledEvent(models.Model):
    """Marks that a consumer of the outbox has handled an event (see catalog.outbox)."""

    consumer = models.CharField(max_length=64)
    event = models.ForeignKey(
        Event, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    handled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consumer", "event"], name="catalog_handled_event_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consumer}:{self.event_id}"


class SigningKey(models.Model):
    """A public key the registry signs attestations with, published for verifiers.

    The private key lives in the settings (or a file), never here. Rotating it adds
    a row and clears ``active`` on the others; old rows stay published so that old
    attestations still verify.
    """

    keyid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=32)
    public_key_pem = models.TextField()
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.keyid[:12]}"


class TrustedSigningKey(models.Model):
    """A public key whose OpenSSF model-signing signatures a group trusts (admins
    add and remove them)."""

    group = models.ForeignKey(
        ModelGroup, on_delete=models.CASCADE, related_name="trusted_keys"
    )
    name = models.CharField(max_length=100)
    public_key_pem = models.TextField()
    fingerprint = models.CharField(max_length=64)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "name"],
                name="catalog_trusted_key_name_unique",
                violation_error_message="This group already trusts a key with this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint[:12]})"


class AttestationKind(models.TextChoices):
    APPROVAL = "approval", "Approval"
    REVOCATION = "revocation", "Revocation"


class Attestation(AppendOnlyModel):
    """A signed statement that a version was approved (or its approval revoked):
    a DSSE envelope, written in the transaction of the approval or revocation."""

    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    kind = models.CharField(max_length=16, choices=AttestationKind.choices)
    event_id = models.BigIntegerField()
    keyid = models.CharField(max_length=64)
    envelope = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["version", "kind", "-id"], name="catalog_attest_ver")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of v{self.version_id}"


class EvaluationTask(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"


class EvaluationSet(AppendOnlyModel):
    """Labelled rows a group's versions are measured on: stored bytes, hashed,
    numbered 1..N per group, never changed (a new upload is a new number)."""

    group = models.ForeignKey(
        ModelGroup, on_delete=models.CASCADE, related_name="evaluation_sets"
    )
    version = models.PositiveIntegerField()
    task = models.CharField(max_length=16, choices=EvaluationTask.choices)
    label_column = models.CharField(max_length=255)
    feature_columns = models.JSONField(default=list)
    # The metric definitions: scikit-learn metrics by name, fitting ``task``.
    metrics = models.JSONField(default=list)
    rows = models.PositiveIntegerField()
    file_format = models.CharField(max_length=16)
    key = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    # The client's file name: inert text, never used to build a path.
    filename = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True, max_length=10_000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "version"],
                name="catalog_evalset_unique_per_group",
                violation_error_message="This evaluation set number is taken.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} evaluation set v{self.version}"


class EvaluationStatus(models.TextChoices):
    QUEUED = "Queued", "Queued"
    RUNNING = "Running", "Running"
    SUCCEEDED = "Succeeded", "Succeeded"
    FAILED = "Failed", "Failed"


EVALUATION_ACTIVE = frozenset({EvaluationStatus.QUEUED, EvaluationStatus.RUNNING})


class Evaluation(models.Model):
    """One version measured on one evaluation set by the registry (a Celery task
    claims the row with a lease); ``metrics`` are the computed values."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="evaluations"
    )
    evaluation_set = models.ForeignKey(
        EvaluationSet, on_delete=models.CASCADE, related_name="evaluations"
    )
    status = models.CharField(
        max_length=16,
        choices=EvaluationStatus.choices,
        default=EvaluationStatus.QUEUED,
        db_index=True,
    )
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "evaluation_set"],
                name="catalog_evaluation_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version_id} on {self.evaluation_set_id}: {self.status}"
