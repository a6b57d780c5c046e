"""Endpoints that serve a model group, and the deployments that change what they serve."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models import ModelGroup, ModelVersion, name_validator
from common.append_only import AppendOnlyModel


class Target(models.TextChoices):
    BUILTIN = "builtin", "Built-in serving"
    WEBHOOK = "webhook", "Webhook (external CI/CD)"
    RAY = "ray", "Ray Serve cluster"


class Endpoint(models.Model):
    """A named place where one version of a group serves (or is shipped to)."""

    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    group = models.ForeignKey(
        ModelGroup, on_delete=models.PROTECT, related_name="endpoints"
    )
    auto_deploy = models.BooleanField(default=True)
    target = models.CharField(
        max_length=16, choices=Target.choices, default=Target.BUILTIN
    )
    webhook_url = models.URLField(max_length=2000, blank=True)
    # Used to sign outbound calls, so it is kept as given; never shown by the API.
    webhook_secret = models.CharField(max_length=255, blank=True)
    webhook_timeout = models.PositiveIntegerField(default=600)
    # Ray Serve target: replicas (a fixed number, or autoscaling between min and max
    # when ray_max_replicas is set) and the cluster's addresses (blank: the
    # REGISTRY_RAY_DASHBOARD_URL / REGISTRY_RAY_SERVE_URL settings).
    ray_num_replicas = models.PositiveSmallIntegerField(default=1)
    ray_min_replicas = models.PositiveSmallIntegerField(default=1)
    ray_max_replicas = models.PositiveSmallIntegerField(null=True, blank=True)
    ray_num_cpus = models.FloatField(default=0.25)
    ray_dashboard_url = models.URLField(max_length=2000, blank=True)
    ray_serve_url = models.URLField(max_length=2000, blank=True)
    live_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    live_since = models.DateTimeField(null=True, blank=True)
    # Why the endpoint serves nothing (e.g. its live version was revoked).
    serving_message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("invoke_endpoint", "Can invoke endpoints")]

    def __str__(self) -> str:
        return self.name

    @property
    def ray_dashboard(self) -> str:
        """The Ray dashboard address this endpoint uses, as configured (calls check
        it first: ``deployments.services.ray_target.dashboard_url``)."""
        own = self.ray_dashboard_url or settings.REGISTRY_RAY_DASHBOARD_URL
        return own.rstrip("/")

    @property
    def ray_serve(self) -> str:
        """The Ray Serve HTTP proxy address this endpoint uses, as configured."""
        return (self.ray_serve_url or settings.REGISTRY_RAY_SERVE_URL).rstrip("/")


class DeploymentStatus(models.TextChoices):
    QUEUED = "Queued", "Queued"
    RUNNING = "Running", "Running"
    SUCCEEDED = "Succeeded", "Succeeded"
    FAILED = "Failed", "Failed"
    SUPERSEDED = "Superseded", "Superseded"
    CANCELLED = "Cancelled", "Cancelled"


ACTIVE_STATES = (DeploymentStatus.QUEUED, DeploymentStatus.RUNNING)
TERMINAL_STATES = (
    DeploymentStatus.SUCCEEDED,
    DeploymentStatus.FAILED,
    DeploymentStatus.SUPERSEDED,
    DeploymentStatus.CANCELLED,
)


class Reason(models.TextChoices):
    APPROVAL = "approval", "Approval"
    MANUAL = "manual", "Manual"
    ROLLBACK = "rollback", "Rollback"
    REVOCATION = "revocation", "Revocation"


class Deployment(models.Model):
    """One attempt to make ``version`` live on ``endpoint``; the row is the truth."""

    MAX_ATTEMPTS = 3

    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deployments"
    )
    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    status = models.CharField(
        max_length=16,
        choices=DeploymentStatus.choices,
        default=DeploymentStatus.QUEUED,
        db_index=True,
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    previous_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    event_id = models.BigIntegerField(null=True, blank=True)
    callback_deadline = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                name="deployments_one_per_event",
                condition=models.Q(event_id__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "status"], name="deploy_endpoint_status")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.endpoint_id} v{self.version_id} {self.status}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATES

    @property
    def log(self) -> list[str]:
        """The log as lines of text, oldest first (prefetch ``log_lines`` for lists)."""
        return [line.text for line in self.log_lines.all()]


class DeploymentLogLine(AppendOnlyModel):
    """One line of a deployment's log, its time first; lines are only ever added."""

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="log_lines"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text


class WorkerHeartbeat(models.Model):
    """The last time a worker consuming the deployments queue ran its heartbeat task
    (every few seconds, from the beat schedule): what ``/readyz`` reports."""

    lane = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.lane} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class LoadCheck(models.Model):
    """A version's model loaded and answered its warm-up in the sandbox, ahead of
    any approval (``deployments.services.prechecks``). ``fingerprint`` covers every
    input of that check (the bytes' digest, the format, the warm-up payload and
    shape, the loader's limits and trust list, the runtimes' versions): a deployment
    whose inputs match reuses the report instead of loading again while the
    approver waits."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+"
    )
    fingerprint = models.CharField(max_length=64)
    report = models.JSONField()
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "fingerprint"], name="load_check_once"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version_id} checked at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class ClusterLock(models.Model):
    """Who is changing a serving cluster's application list (Ray Serve's PUT replaces
    the whole list, so its read-then-write must not interleave between deployments of
    two endpoints): a lease held by one worker at a time, free once it runs out."""

    address = models.CharField(max_length=2000, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.address
