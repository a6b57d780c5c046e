"""Reads of the approvals app."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.roles import Actor, Role, has_role, roles_of
from approvals.models import Decision, Review
from catalog.models import ApprovalStatus, ModelVersion


def inbox(user: Actor, *, group: str = "") -> QuerySet[ModelVersion]:
    """Pending versions that wait for ``user``'s review (in the group named
    ``group``, if given), oldest first."""
    if not has_role(user, Role.REVIEWER):
        return ModelVersion.objects.none()
    versions = ModelVersion.objects.filter(approval_status=ApprovalStatus.PENDING)
    if group:
        versions = versions.filter(group__name=group)
    if Role.ADMIN not in roles_of(user):
        versions = versions.filter(
            Q(group__approval_policy__isnull=True)
            | Q(group__approval_policy__reviewers__isnull=True)
            | Q(group__approval_policy__reviewers__in=user.groups.all())
        )
    versions = versions.exclude(
        Q(created_by=user) & ~Q(group__approval_policy__allow_self_approval=True)
    )
    last_round = Review.objects.filter(version=OuterRef("pk")).order_by("-round")
    versions = versions.annotate(
        _round=Coalesce(Subquery(last_round.values("round")[:1]), 1)
    )
    voted = Review.objects.filter(
        version=OuterRef("pk"),
        reviewer=user,
        round=OuterRef("_round"),
        decision__in=[Decision.APPROVE, Decision.REJECT],
    )
    return versions.exclude(Exists(voted)).order_by("created_at", "id")


def inbox_count(user: Actor, cap: int) -> int:
    """How many versions wait for ``user``, counting no further than ``cap + 1``: the
    whole inbox of a big catalog would cost every page that shows the number."""
    return inbox(user).order_by()[: cap + 1].count()


def inbox_totals(user: Actor) -> list[tuple[str, int]]:
    """How many versions wait for ``user`` in each group, by group name (one query)."""
    rows = (
        inbox(user)
        .order_by()
        .values("group__name")
        .annotate(waiting=Count("pk"))
        .order_by("group__name")
    )
    return [(row["group__name"], row["waiting"]) for row in rows]


def version_reviews(version: ModelVersion) -> QuerySet[Review]:
    """The version's reviews in the order they were given."""
    return (
        Review.objects.filter(version=version)
        .select_related("version__group")
        .order_by("created_at", "id")
    )
