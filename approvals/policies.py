"""Reading an approval policy: eligibility, gates and the verdict in words."""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from accounts.roles import Actor, Role, has_role, roles_of
from approvals.models import ApprovalPolicy, Decision, Review
from catalog import selectors
from catalog.models import ApprovalStatus, ModelGroup, ModelVersion
from common.errors import Invalid

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


# A metric gate may read the registry's computed value instead of the reported one:
# ``"source": "computed"`` (default ``"reported"``), optionally pinned to the group's
# evaluation set number ``"evaluation_set"``.
GATE_SOURCE_KEYS = frozenset({"source", "evaluation_set"})
SOURCES = ("reported", "computed")


def gate_source(gate: dict[str, Any], field: str) -> dict[str, Any]:
    """The gate's source keys, validated; empty for a plain reported gate."""
    source = gate.get("source", "reported")
    if source not in SOURCES:
        raise Invalid.on(field, 'source must be "reported" or "computed".')
    number = gate.get("evaluation_set")
    if number is not None and (
        source != "computed"
        or isinstance(number, bool)
        or not isinstance(number, int)
        or number < 1
    ):
        raise Invalid.on(
            field, "evaluation_set is a set number, for a computed gate only."
        )
    if source == "reported":
        return {}
    return {"source": source} | ({"evaluation_set": number} if number else {})


def _gate_value(
    version: ModelVersion, gate: dict[str, Any], pinned: dict[int, dict[str, float]]
) -> tuple[float | None, str]:
    """The value a gate judges, and the words for where it came from (or why none)."""
    metric = gate["metric"]
    if gate.get("source") != "computed":
        value = version.metrics.get(metric)
        return value, f"{metric} is {value:g}" if value is not None else (
            f"metric {metric!r} is missing"
        )
    number = gate.get("evaluation_set")
    if number:
        value = pinned.get(version.pk, {}).get(metric)
        where = f"evaluation set v{number}"
    else:
        held = (version.computed_metrics or {}).get(metric)
        value = held["value"] if held else None
        where = f"evaluation set v{held['evaluation_set']}" if held else ""
    if value is None:
        return None, (
            f"computed {metric} is missing: no successful evaluation"
            f"{f' on evaluation set v{number}' if number else ''} has computed it yet"
        )
    return value, f"computed {metric} is {value:g} on {where}"


def gate_results(version: ModelVersion, policy: ApprovalPolicy) -> list[GateResult]:
    results = []
    pinned: dict[int, dict[str, float]] = {}
    for number in {g.get("evaluation_set") for g in policy.metric_gates} - {None}:
        for version_id, values in selectors.computed_on([version.pk], number).items():
            pinned.setdefault(version_id, {}).update(values)
    for gate in policy.metric_gates:
        name = f"{gate['metric']} {gate['op']} {gate['value']}"
        if gate.get("source") == "computed":
            name = f"computed {name}" + (
                f" on evaluation set v{gate['evaluation_set']}"
                if gate.get("evaluation_set")
                else ""
            )
        value, detail = _gate_value(version, gate, pinned)
        if value is None:
            results.append(GateResult(name, False, detail))
            continue
        passed = math.isfinite(value) and OPS[gate["op"]](value, gate["value"])
        results.append(GateResult(name, passed, detail))
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


def snapshot(version: ModelVersion, policy: ApprovalPolicy) -> dict[str, Any]:
    """The policy as it stands, with each gate's result on ``version`` (what an
    attestation records)."""
    return {
        **described(policy),
        "gates": [asdict(g) for g in gate_results(version, policy)],
    }


def described(policy: ApprovalPolicy) -> dict[str, Any]:
    """Every field of the policy as plain data (events and attestations record it)."""
    return {
        "required_approvals": policy.required_approvals,
        "reviewers": policy.reviewers.name if policy.reviewers else None,
        "allow_self_approval": policy.allow_self_approval,
        "reject_on_first_rejection": policy.reject_on_first_rejection,
        "metric_gates": policy.metric_gates,
        "require_model_card": policy.require_model_card,
        "require_sample_payload": policy.require_sample_payload,
        "require_lineage_commit": policy.require_lineage_commit,
        "approval_valid_days": policy.approval_valid_days,
        "on_expiry": policy.on_expiry,
    }


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
        "metric_mismatches": selectors.metric_mismatches(version),
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
    flagged = [m["metric"] for m in result.get("metric_mismatches", [])]
    if flagged:
        parts.append("reported ≠ computed: " + ", ".join(flagged))
    failed = [g["name"] for g in result["gates"] if not g["passed"]]
    if failed:
        parts.append("failing gates: " + ", ".join(failed))
    elif result["gates"]:
        parts.append("all gates pass")
    return "; ".join(parts).capitalize() + "."
