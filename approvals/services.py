"""Every change of a version's approval status, and the policies that govern it.

``_transition`` is the one place that writes ``ModelVersion.approval_status``: a
compare-and-set on the expected status. Reviews of one version are serialised by a
row lock on the version, so two reviewers racing on the last approval see each
other's vote and exactly one transition (and one event) happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from accounts.roles import Actor, Role, require_role
from approvals import policies
from approvals.models import (
    ApprovalPolicy,
    Decision,
    MetricDirection,
    OnExpiry,
    Review,
)
from catalog.attestations import attestation_record, last_approval, payload_sha256
from catalog.models import (
    ApprovalStatus,
    AttestationKind,
    Event,
    EventKind,
    ModelGroup,
    ModelVersion,
    RegistrationStatus,
)
from catalog.services import event_record
from common.errors import Conflict, Forbidden, Invalid

P, A, R = ApprovalStatus.PENDING, ApprovalStatus.APPROVED, ApprovalStatus.REJECTED
MAX_COMMENT = 10_000


@dataclass
class ReviewOutcome:
    review: Review | None
    version: ModelVersion
    created: bool


def _transition(version: ModelVersion, *, expected: str, to: str) -> bool:
    """Compare-and-set the status; True if this call made the change."""
    changed = ModelVersion.objects.filter(
        pk=version.pk, approval_status=expected
    ).update(approval_status=to, updated_at=timezone.now())
    if changed:
        version.approval_status = to
    return bool(changed)


def _comment(comment: Any, *, required: bool, why: str = "") -> str:
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise Invalid.on("comment", "Must be a string.")
    comment = comment.strip()
    if required and not comment:
        message = f"A comment is required {why}".strip() + "."
        raise Invalid.on("comment", message)
    if len(comment) > MAX_COMMENT:
        message = f"At most {MAX_COMMENT} characters."
        raise Invalid.on("comment", message)
    return comment


def _record(
    version: ModelVersion, actor: User, decision: str, comment: str, round_: int
) -> Review:
    review = Review.objects.create(
        version=version,
        reviewer=actor,
        reviewer_name=actor.username,
        decision=decision,
        comment=comment,
        round=round_,
        status_after=version.approval_status,
    )
    event_record(
        EventKind.REVIEW_SUBMITTED,
        actor=actor,
        group=version.group,
        version=version,
        payload={
            "review": review.pk,
            "decision": decision,
            "comment": comment,
            "round": round_,
            "status": version.approval_status,
        },
    )
    return review


def _status_event(
    kind: EventKind,
    version: ModelVersion,
    actor: Actor | None,
    *,
    from_: str,
    comment: str,
    **extra: Any,
) -> Event:
    return event_record(
        kind,
        actor=actor,
        group=version.group,
        version=version,
        payload={
            "from": from_,
            "to": version.approval_status,
            "comment": comment,
            **extra,
        },
    )


def review_submit(
    *, actor: Actor, version: ModelVersion, decision: str, comment: Any = ""
) -> ReviewOutcome:
    """Record a review and apply the policy: approve, reject, revoke or comment."""
    if decision not in {Decision.APPROVE, Decision.REJECT, Decision.COMMENT}:
        raise Invalid.on("decision", "Use approve, reject or comment.")
    actor = require_role(actor, Role.REVIEWER, action="review versions")
    policy = policies.policy_for(version.group)
    allowed, reason = policies.may_review(actor, policy)
    if not allowed:
        raise Forbidden(reason)
    text = _comment(
        comment,
        required=decision != Decision.APPROVE,
        why="to reject" if decision == Decision.REJECT else "",
    )
    with transaction.atomic():
        locked = (
            # Lock the version row only; the policy rides along for the verdict.
            ModelVersion.objects.select_for_update(of=("self",))
            .select_related("group", "group__approval_policy")
            .get(pk=version.pk)
        )
        handler = {
            Decision.APPROVE: _approve,
            Decision.REJECT: _reject,
            Decision.COMMENT: _comment_only,
        }[Decision(decision)]
        return handler(locked, actor, text, policy)


def _require_checked(version: ModelVersion) -> None:
    """An artifact waiting for its check, or one that failed it, cannot be approved
    (a large one is checked by a worker after registration). A version recorded
    without bytes (Absent) can: it is never deployed."""
    if version.registration_status in (
        RegistrationStatus.READY,
        RegistrationStatus.ABSENT,
    ):
        return
    if version.registration_status == RegistrationStatus.FAILED:
        raise Conflict(
            f"Version {version.version} failed its artifact check and cannot be "
            f"approved: {version.registration_error}"
        )
    raise Conflict(
        f"Version {version.version}'s artifact is still being checked; approve it "
        "once its registration status is Ready."
    )


def _require_gates(version: ModelVersion, policy: ApprovalPolicy) -> None:
    """Refuse an approval (or re-certification) whose gates fail, naming each."""
    failed = [g for g in policies.gate_results(version, policy) if not g.passed]
    if failed:
        names = "; ".join(f"{g.name} ({g.detail})" for g in failed)
        raise Invalid(
            f"Approval gates failed: {names}.",
            fields={"gates": [g.name for g in failed]},
            failed_gates=[{"name": g.name, "detail": g.detail} for g in failed],
        )


def _comment_only(
    version: ModelVersion, actor: User, text: str, policy: ApprovalPolicy
) -> ReviewOutcome:
    review = _record(
        version, actor, Decision.COMMENT, text, policies.current_round(version)
    )
    return ReviewOutcome(review, version, True)


def _approve(
    version: ModelVersion, actor: User, text: str, policy: ApprovalPolicy
) -> ReviewOutcome:
    if version.approval_status == A:
        if policy.approval_valid_days:
            return _recertify(version, actor, text, policy)
        return ReviewOutcome(None, version, False)
    if version.approval_status == R:
        raise Conflict(
            f"Version {version.version} is Rejected; it must be resubmitted "
            "before it can be approved."
        )
    _require_checked(version)
    refusal = policies.self_approval_refused(actor, version, policy)
    if refusal:
        raise Forbidden(refusal)
    round_, votes = policies.round_and_votes(version)
    mine = votes.get(actor.pk)
    repeated = mine is not None and mine.decision == Decision.APPROVE
    approvers = {pk for pk, r in votes.items() if r.decision == Decision.APPROVE}
    if repeated and len(approvers) < policy.required_approvals:
        return ReviewOutcome(mine, version, False)
    _require_gates(version, policy)
    approvers.add(actor.pk)
    if len(approvers) >= policy.required_approvals and _transition(
        version, expected=P, to=A
    ):
        # A repeated approval completes a quorum that a policy change lowered.
        review = (
            mine
            if repeated
            else _record(version, actor, Decision.APPROVE, text, round_)
        )
        event = _status_event(
            EventKind.VERSION_APPROVED,
            version,
            actor,
            from_=P,
            comment=text,
            round=round_,
            approvals=len(approvers),
        )
        if review is not None:
            votes[actor.pk] = review
        _attest_approval(version, policy, event, votes, round_)
        return ReviewOutcome(review, version, True)
    return ReviewOutcome(
        _record(version, actor, Decision.APPROVE, text, round_), version, True
    )


def _attest_approval(
    version: ModelVersion,
    policy: ApprovalPolicy,
    event: Event,
    votes: dict[int, Review],
    round_: int,
) -> None:
    """Sign what was approved, by whom and under which policy (same transaction)."""
    approvals = sorted(
        (r for r in votes.values() if r.decision == Decision.APPROVE),
        key=lambda r: (r.created_at, r.pk),
    )
    attestation_record(
        version=version,
        kind=AttestationKind.APPROVAL,
        event=event,
        predicate={
            "group": version.group.name,
            "version": version.version,
            "artifact_format": version.artifact_format,
            "approved_at": event.created_at.isoformat(),
            "round": round_,
            "policy": policies.snapshot(version, policy),
            "approvals": [
                {"reviewer": r.reviewer_name, "approved_at": r.created_at.isoformat()}
                for r in approvals
            ],
        },
    )


def _attest_revocation(
    version: ModelVersion, event: Event, actor: Actor | None, text: str
) -> None:
    """Sign that the approval of ``version`` no longer holds (same transaction)."""
    approval = last_approval(version)
    attestation_record(
        version=version,
        kind=AttestationKind.REVOCATION,
        event=event,
        predicate={
            "group": version.group.name,
            "version": version.version,
            "revoked_at": event.created_at.isoformat(),
            # None when the registry revoked it (an expired approval).
            "revoked_by": getattr(actor, "username", None),
            "reason": text,
            "approval": None
            if approval is None
            else {
                "event_id": approval.event_id,
                "payload_sha256": payload_sha256(approval),
            },
        },
    )


def _recertify(
    version: ModelVersion, actor: User, text: str, policy: ApprovalPolicy
) -> ReviewOutcome:
    """An approving review of an Approved version whose approval expires: the clock
    starts again, under the same rules as an approval (gates, self-approval)."""
    refusal = policies.self_approval_refused(actor, version, policy)
    if refusal:
        raise Forbidden(refusal)
    _require_gates(version, policy)
    round_ = policies.current_round(version)
    review = _record(version, actor, Decision.APPROVE, text, round_)
    expires = review.created_at + timedelta(days=policy.approval_valid_days or 0)
    event_record(
        EventKind.VERSION_RECERTIFIED,
        actor=actor,
        group=version.group,
        version=version,
        payload={"comment": text, "expires_at": expires.isoformat()},
    )
    return ReviewOutcome(review, version, True)


def approvals_expire(*, now: datetime | None = None) -> int:
    """Act on every approval that outlived its policy's ``approval_valid_days``: an
    event ``version.approval_expired`` once per approval, and with ``on_expiry``
    ``revoke`` the version is revoked (endpoints roll back as on any revocation).
    Returns how many approvals expired. Run periodically; ``now`` lets tests
    advance time."""
    now = now or timezone.now()
    expired = 0
    for policy in ApprovalPolicy.objects.filter(
        approval_valid_days__isnull=False
    ).select_related("group"):
        candidates = ModelVersion.objects.filter(
            group=policy.group, approval_status=A
        ).values_list("pk", flat=True)
        for pk in candidates:
            expired += _expire_one(pk, now)
    return expired


def _expire_one(pk: int, now: datetime) -> int:
    with transaction.atomic():
        version = (
            ModelVersion.objects.select_for_update(of=("self",))
            .select_related("group", "group__approval_policy")
            .get(pk=pk)
        )
        policy = policies.policy_for(version.group)
        _, votes = policies.round_and_votes(version)
        expires = policies.expires_at(version, policy, votes)
        if expires is None or expires > now:
            return 0
        if Event.objects.filter(
            version=version,
            kind=EventKind.VERSION_APPROVAL_EXPIRED,
            created_at__gte=policies.certified_at(votes),
        ).exists():
            return 0  # told once; notify-only keeps it Approved until re-certified
        revoke = policy.on_expiry == OnExpiry.REVOKE
        days = policy.approval_valid_days
        text = f"The approval expired after {days} days."
        event_record(
            EventKind.VERSION_APPROVAL_EXPIRED,
            actor=None,
            group=version.group,
            version=version,
            payload={
                "expired_at": expires.isoformat(),
                "approval_valid_days": days,
                "on_expiry": policy.on_expiry,
            },
        )
        if revoke and _transition(version, expected=A, to=R):
            event = _status_event(
                EventKind.VERSION_REJECTED,
                version,
                None,
                from_=A,
                comment=text,
                revoked=True,
                expired=True,
            )
            _attest_revocation(version, event, None, text)
        return 1


def _reject(
    version: ModelVersion, actor: User, text: str, policy: ApprovalPolicy
) -> ReviewOutcome:
    if version.approval_status == R:
        return ReviewOutcome(None, version, False)
    round_, votes = policies.round_and_votes(version)
    if version.approval_status == A:
        _transition(version, expected=A, to=R)  # revoke
        review = _record(version, actor, Decision.REJECT, text, round_)
        event = _status_event(
            EventKind.VERSION_REJECTED,
            version,
            actor,
            from_=A,
            comment=text,
            revoked=True,
        )
        _attest_revocation(version, event, actor, text)
        return ReviewOutcome(review, version, True)
    rejecters = {pk for pk, r in votes.items() if r.decision == Decision.REJECT}
    rejecters.add(actor.pk)
    enough = (
        policy.reject_on_first_rejection or len(rejecters) >= policy.required_approvals
    )
    if enough and _transition(version, expected=P, to=R):
        review = _record(version, actor, Decision.REJECT, text, round_)
        _status_event(
            EventKind.VERSION_REJECTED,
            version,
            actor,
            from_=P,
            comment=text,
            revoked=False,
        )
        return ReviewOutcome(review, version, True)
    return ReviewOutcome(
        _record(version, actor, Decision.REJECT, text, round_), version, True
    )


def version_resubmit(
    *, actor: Actor, version: ModelVersion, comment: Any
) -> ReviewOutcome:
    """Send a Rejected version back for review; earlier votes no longer count."""
    actor = require_role(actor, Role.CONTRIBUTOR, action="resubmit versions")
    text = _comment(comment, required=True, why="to resubmit")
    with transaction.atomic():
        locked = (
            # Lock the version row only; the policy rides along for the verdict.
            ModelVersion.objects.select_for_update(of=("self",))
            .select_related("group", "group__approval_policy")
            .get(pk=version.pk)
        )
        if locked.approval_status != R:
            # A retry of a resubmit that went through sends its Idempotency-Key.
            raise Conflict(
                f"Version {locked.version} is {locked.approval_status}; only a "
                "Rejected version can be resubmitted."
            )
        round_ = policies.current_round(locked) + 1
        _transition(locked, expected=R, to=P)
        review = Review.objects.create(
            version=locked,
            reviewer=actor,
            reviewer_name=actor.username,
            decision=Decision.RESUBMIT,
            comment=text,
            round=round_,
            status_after=P,
        )
        _status_event(
            EventKind.VERSION_RESUBMITTED,
            locked,
            actor,
            from_=R,
            comment=text,
            round=round_,
        )
        return ReviewOutcome(review, locked, True)


POLICY_FIELDS = (
    "required_approvals",
    "reviewers",
    "allow_self_approval",
    "reject_on_first_rejection",
    "metric_gates",
    "require_model_card",
    "require_sample_payload",
    "require_lineage_commit",
    "approval_valid_days",
    "on_expiry",
)


def _metric_gates(value: Any) -> list[dict[str, Any]]:
    from catalog.validation import METRIC_NAME_RE

    if not isinstance(value, list):
        raise Invalid.on("metric_gates", "Must be a list.")
    gates = []
    for index, gate in enumerate(value):
        field = f"metric_gates[{index}]"
        ok = (
            isinstance(gate, dict)
            and set(gate) - policies.GATE_SOURCE_KEYS == {"metric", "op", "value"}
            and isinstance(gate["metric"], str)
            and METRIC_NAME_RE.match(gate["metric"])
            and gate["op"] in policies.OPS
            and not isinstance(gate["value"], bool)
            and isinstance(gate["value"], int | float)
        )
        if not ok:
            message = (
                'Use {"metric": name, "op": one of >=, <=, >, <, ==, "value": number}.'
            )
            raise Invalid.on(field, message)
        gates.append(
            {"metric": gate["metric"], "op": gate["op"], "value": float(gate["value"])}
            | policies.gate_source(gate, field)
        )
    return gates


@transaction.atomic
def policy_update(
    *, actor: Actor, group: ModelGroup, replace: bool = False, **fields: Any
) -> ApprovalPolicy:
    """Change the group's approval policy (admins only).

    With ``replace`` (an HTTP PUT) the fields not given go back to their defaults;
    otherwise (PATCH) they keep their values.
    """
    actor = require_role(actor, Role.ADMIN, action="edit approval policies")
    unknown = sorted(set(fields) - set(POLICY_FIELDS))
    if unknown:
        raise Invalid.on(unknown[0], "Not a policy field.")
    policy = ApprovalPolicy.objects.select_for_update().filter(group=group).first()
    policy = policy or ApprovalPolicy(group=group)
    if replace:
        for name in set(POLICY_FIELDS) - set(fields):
            default = ApprovalPolicy._meta.get_field(name).get_default()  # type: ignore[union-attr]
            setattr(policy, name, default)
    if "reviewers" in fields:
        name = fields.pop("reviewers")
        policy.reviewers = None
        if name:
            policy.reviewers = Group.objects.filter(name=name).first()
            if policy.reviewers is None:
                message = f"No user group named {name!r}."
                raise Invalid.on("reviewers", message)
    if "metric_gates" in fields:
        fields["metric_gates"] = _metric_gates(fields["metric_gates"])
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.updated_by = actor
    policy.full_clean(exclude=["group"])
    policy.save()
    event_record(
        EventKind.POLICY_UPDATED,
        actor=actor,
        group=group,
        payload=policies.described(policy),
    )
    return policy


@transaction.atomic
def metric_direction_set(
    *, actor: Actor, group: ModelGroup, metric: Any, higher_is_better: Any
) -> MetricDirection:
    """Say which way ``metric`` of ``group`` is better (admins), overriding the rule
    of names that deltas and charts otherwise follow."""
    from catalog.validation import METRIC_NAME_RE

    actor = require_role(actor, Role.ADMIN, action="set metric directions")
    if not isinstance(metric, str) or not METRIC_NAME_RE.match(metric):
        raise Invalid.on("metric", "Not a metric name.")
    if not isinstance(higher_is_better, bool):
        raise Invalid.on("higher_is_better", "Must be true or false.")
    direction, _ = MetricDirection.objects.update_or_create(
        group=group, metric=metric, defaults={"higher_is_better": higher_is_better}
    )
    event_record(
        EventKind.POLICY_UPDATED,
        actor=actor,
        group=group,
        payload={
            "metric_direction": {metric: "higher" if higher_is_better else "lower"}
        },
    )
    return direction


@transaction.atomic
def metric_direction_clear(*, actor: Actor, group: ModelGroup, metric: str) -> bool:
    """Drop the group's own direction for ``metric`` (the rule of names applies
    again); False if it had none."""
    actor = require_role(actor, Role.ADMIN, action="set metric directions")
    deleted, _ = MetricDirection.objects.filter(group=group, metric=metric).delete()
    if deleted:
        event_record(
            EventKind.POLICY_UPDATED,
            actor=actor,
            group=group,
            payload={"metric_direction": {metric: None}},
        )
    return bool(deleted)
