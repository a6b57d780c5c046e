"""What the SageMaker face keeps of its own: the protocol's documents and tokens.

The catalog holds every version and the fields it knows (description, lineage,
customer metadata, tags, model card); these rows keep the rest of what a SageMaker
client sent, to return it as sent, and the ``ClientToken`` of each create.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PackageDocument(models.Model):
    """The SageMaker fields of a model package that the catalog has no column for
    (InferenceSpecification, ModelMetrics, Domain, Task, ...), returned as sent."""

    version = models.OneToOneField(
        "catalog.ModelVersion", on_delete=models.CASCADE, related_name="sagemaker"
    )
    document = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"SageMaker fields of version {self.version_id}"


class ClientToken(models.Model):
    """A ``ClientToken`` sent with a create, and the version that create made: a
    retry with the same token and parameters answers the same ARN."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    token = models.CharField(max_length=36)
    fingerprint = models.CharField(max_length=64)
    version = models.ForeignKey(
        "catalog.ModelVersion", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "token"], name="sagemaker_client_token_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.token}"
