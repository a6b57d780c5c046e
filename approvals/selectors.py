"""Reads of the approvals app."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

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
    versions = _reviewable_by(versions, user)
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


def _reviewable_by(versions: QuerySet[ModelVersion], user: Actor) -> QuerySet:
    """The versions of groups whose policy lets ``user`` review (admins: all)."""
    if Role.ADMIN in roles_of(user):
        return versions
    return versions.filter(
        Q(group__approval_policy__isnull=True)
        | Q(group__approval_policy__reviewers__isnull=True)
        | Q(group__approval_policy__reviewers__in=user.groups.all())
    )


def expiring(
    user: Actor,
    *,
    within: timedelta = timedelta(days=14),
    now: datetime | None = None,
    limit: int = 50,
) -> list[tuple[ModelVersion, datetime]]:
    """Approved versions ``user`` may re-certify whose approval expires within
    ``within`` (or has expired and, by a notify-only policy, still stands), soonest
    first, with when: two queries whatever the catalog's size."""
    if not has_role(user, Role.REVIEWER):
        return []
    now = now or timezone.now()
    certified = Review.objects.filter(
        version=OuterRef("pk"), decision=Decision.APPROVE
    ).order_by("-created_at")
    versions = _reviewable_by(
        ModelVersion.objects.filter(
            approval_status=ApprovalStatus.APPROVED,
            group__approval_policy__approval_valid_days__isnull=False,
        ),
        user,
    )
    rows = (
        versions.select_related("group__approval_policy")
        .annotate(_certified=Subquery(certified.values("created_at")[:1]))
        .order_by("_certified")
    )
    found = []
    for version in rows.iterator(chunk_size=500):
        days = version.group.approval_policy.approval_valid_days
        if version._certified is None or days is None:
            continue
        expires = version._certified + timedelta(days=days)
        if expires <= now + within:
            found.append((version, expires))
    found.sort(key=lambda pair: pair[1])
    return found[:limit]


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


def last_decision_comment() -> Subquery:
    """For an annotation on versions: the comment of the version's latest approve,
    reject or resubmit review (None when it has none)."""
    return Subquery(
        Review.objects.filter(
            version=OuterRef("pk"),
            decision__in=(Decision.APPROVE, Decision.REJECT, Decision.RESUBMIT),
        )
        .order_by("-created_at", "-id")
        .values("comment")[:1]
    )


def version_reviews(version: ModelVersion) -> QuerySet[Review]:
    """The version's reviews in the order they were given."""
    return (
        Review.objects.filter(version=version)
        .select_related("version__group")
        .order_by("created_at", "id")
    )
