"""Reading an approval policy: eligibility, gates and the verdict in words."""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from accounts.roles import Actor, Role, has_role, roles_of
from approvals.models import ApprovalPolicy, Decision, Review
from catalog.models import ApprovalStatus, ModelGroup, ModelVersion

OPS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


def policy_for(group: ModelGroup) -> ApprovalPolicy:
    """The group's policy, or the default one (unsaved) where none is set."""
    try:
        return group.approval_policy
    except ApprovalPolicy.DoesNotExist:
        return ApprovalPolicy(group=group)


def may_review(user: Actor, policy: ApprovalPolicy) -> tuple[bool, str]:
    """Whether ``user`` may review the policy's group, and why not."""
    if not has_role(user, Role.REVIEWER):
        return False, "You need the reviewer role to review versions."
    if Role.ADMIN in roles_of(user) or policy.reviewers_id is None:
        return True, ""
    if not user.groups.filter(pk=policy.reviewers_id).exists():
        return False, (
            f"Only members of {str(policy.reviewers)!r} review {policy.group.name!r}."
        )
    return True, ""


def self_approval_refused(
    user: Actor, version: ModelVersion, policy: ApprovalPolicy
) -> str:
    """A reason if ``user`` may not approve ``version`` because they registered it."""
    if version.created_by_id == user.pk and not policy.allow_self_approval:
        return (
            f"You registered version {version.version}; the approval policy of "
            f"{version.group.name!r} does not allow approving your own version."
        )
    return ""


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


def gate_results(version: ModelVersion, policy: ApprovalPolicy) -> list[GateResult]:
    results = []
    for gate in policy.metric_gates:
        name = f"{gate['metric']} {gate['op']} {gate['value']}"
        value = version.metrics.get(gate["metric"])
        if value is None:
            results.append(
                GateResult(name, False, f"metric {gate['metric']!r} is missing")
            )
            continue
        passed = math.isfinite(value) and OPS[gate["op"]](value, gate["value"])
        results.append(GateResult(name, passed, f"{gate['metric']} is {value:g}"))
    if policy.require_model_card:
        ok = bool(version.model_card.strip())
        results.append(
            GateResult("model card present", ok, "" if ok else "no model card")
        )
    if policy.require_sample_payload:
        ok = version.sample_payload is not None
        results.append(
            GateResult("sample payload present", ok, "" if ok else "no sample payload")
        )
    if policy.require_lineage_commit:
        ok = bool((version.lineage or {}).get("commit", "").strip())
        results.append(
            GateResult(
                "lineage commit present", ok, "" if ok else "lineage.commit is empty"
            )
        )
    return results


def current_round(version: ModelVersion) -> int:
    last = (
        Review.objects.filter(version=version)
        .order_by("-round")
        .values_list("round", flat=True)
        .first()
    )
    return last or 1


def _tally(reviews: list[Review]) -> tuple[int, dict[int, Review]]:
    """The current round and each reviewer's latest approve/reject in it."""
    round_ = max((r.round for r in reviews), default=1)
    votes: dict[int, Review] = {}
    for review in reviews:
        if review.round == round_ and review.decision in (
            Decision.APPROVE,
            Decision.REJECT,
        ):
            votes[review.reviewer_id] = review
    return round_, votes


def _reviews_of(version_ids: list[int]) -> dict[int, list[Review]]:
    found: dict[int, list[Review]] = {pk: [] for pk in version_ids}
    for review in (
        Review.objects.filter(version_id__in=version_ids)
        .only(
            "id",
            "version_id",
            "reviewer_id",
            "reviewer_name",
            "decision",
            "round",
            "created_at",
        )
        .order_by("created_at", "id")
    ):
        found[review.version_id].append(review)
    return found


def round_and_votes(version: ModelVersion) -> tuple[int, dict[int, Review]]:
    """The current round and each reviewer's latest vote in it, in one query."""
    return _tally(_reviews_of([version.pk])[version.pk])


def certified_at(votes: dict[int, Review]) -> datetime | None:
    """When the approval was last given (or re-certified) in the current round."""
    return max(
        (r.created_at for r in votes.values() if r.decision == Decision.APPROVE),
        default=None,
    )


def expires_at(
    version: ModelVersion, policy: ApprovalPolicy, votes: dict[int, Review]
) -> datetime | None:
    """When an Approved version's approval expires under ``policy`` (None: never)."""
    if version.approval_status != ApprovalStatus.APPROVED:
        return None
    if not policy.approval_valid_days:
        return None
    since = certified_at(votes)
    return since + timedelta(days=policy.approval_valid_days) if since else None


def count(votes: dict[int, Review], decision: str) -> list[str]:
    return sorted(r.reviewer_name for r in votes.values() if r.decision == decision)


def verdict(version: ModelVersion, user: Actor | None = None) -> dict[str, Any]:
    """The policy's judgement of ``version`` in words, for the API and the UI."""
    return verdicts([version], user)[version.pk]


def verdicts(versions: list[ModelVersion], user: Actor | None = None) -> dict[int, Any]:
    """``verdict`` for many versions (a page of the inbox) with one reviews query."""
    reviews = _reviews_of([v.pk for v in versions])
    reviewable: dict[int | None, tuple[bool, str]] = {}
    results = {}
    for version in versions:
        policy = policy_for(version.group)
        if user is not None and policy.reviewers_id not in reviewable:
            reviewable[policy.reviewers_id] = may_review(user, policy)
        results[version.pk] = _judge(
            version,
            policy,
            *_tally(reviews[version.pk]),
            user=user,
            reviewable=reviewable.get(policy.reviewers_id),
        )
    return results


def _judge(
    version: ModelVersion,
    policy: ApprovalPolicy,
    round_: int,
    votes: dict[int, Review],
    *,
    user: Actor | None,
    reviewable: tuple[bool, str] | None,
) -> dict[str, Any]:
    approvals = count(votes, Decision.APPROVE)
    gates = gate_results(version, policy)
    result: dict[str, Any] = {
        "approval_status": version.approval_status,
        "round": round_,
        "required_approvals": policy.required_approvals,
        "approvals": approvals,
        "rejections": count(votes, Decision.REJECT),
        "approvals_needed": max(0, policy.required_approvals - len(approvals)),
        "gates": [asdict(g) for g in gates],
        "gates_pass": all(g.passed for g in gates),
        "approval_expires_at": expires_at(version, policy, votes),
    }
    if user is not None and reviewable is not None:
        allowed, reason = reviewable
        if allowed and version.approval_status == ApprovalStatus.PENDING:
            reason = self_approval_refused(user, version, policy)
        elif allowed:
            reason = f"The version is {version.approval_status}."
        recertify = (
            allowed
            and result["approval_expires_at"] is not None
            and not self_approval_refused(user, version, policy)
        )
        result.update(
            can_review=allowed,
            can_approve=allowed and not reason,
            can_recertify=recertify,
            reason=reason,
        )
    result["summary"] = summary(result)
    return result


def summary(result: dict[str, Any]) -> str:
    status = result["approval_status"]
    if status != ApprovalStatus.PENDING:
        return f"{status}."
    parts = []
    needed = result["approvals_needed"]
    parts.append(
        f"{needed} more approval{'s' if needed != 1 else ''} needed"
        if needed
        else "quorum reached"
    )
    failed = [g["name"] for g in result["gates"] if not g["passed"]]
    if failed:
        parts.append("failing gates: " + ", ".join(failed))
    elif result["gates"]:
        parts.append("all gates pass")
    return "; ".join(parts).capitalize() + "."
