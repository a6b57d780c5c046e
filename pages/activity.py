"""The activity log in sentences: "rita approved iris v3 (2 approvals)".

One sentence per event, built from its kind and payload; the payload itself stays
available as details on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from catalog.models import Event


@dataclass(frozen=True)
class Sentence:
    """``actor`` ``verb`` ``subject`` ``rest``, where the subject is a link."""

    actor: str
    verb: str
    subject: str
    url: str
    rest: str = ""


def _subject(event: Event) -> tuple[str, str]:
    if event.group_name and event.version_number:
        url = reverse(
            "catalog:version",
            kwargs={"group": event.group_name, "number": event.version_number},
        )
        return f"{event.group_name} v{event.version_number}", url
    if event.group_name:
        return event.group_name, reverse(
            "catalog:group", kwargs={"group": event.group_name}
        )
    return "", ""


def _endpoint(payload: dict[str, Any]) -> str:
    return str(payload.get("endpoint") or "an endpoint")


def _review(p: dict[str, Any]) -> tuple[str, str]:
    decision = p.get("decision")
    verb = {"approve": "voted to approve", "reject": "voted to reject"}.get(
        str(decision), "commented on"
    )
    return verb, f" (round {p['round']})" if p.get("round") else ""


def _approved(p: dict[str, Any]) -> tuple[str, str]:
    count = p.get("approvals")
    return (
        "approved",
        f" ({count} approval{'s' if count != 1 else ''})" if count else "",
    )


def _rejected(p: dict[str, Any]) -> tuple[str, str]:
    return ("revoked the approval of", "") if p.get("revoked") else ("rejected", "")


def _updated(p: dict[str, Any]) -> tuple[str, str]:
    fields = p.get("fields") or [k for k in p if k != "fields"]
    return "edited", f" ({', '.join(map(str, fields))})" if fields else ""


def _alias_set(p: dict[str, Any]) -> tuple[str, str]:
    was = f" (was v{p['from']})" if p.get("from") else ""
    return f"pointed @{p.get('alias', '?')} at", was


def _deployment(verb: str, after: str = "") -> Any:
    def say(p: dict[str, Any]) -> tuple[str, str]:
        return verb, " " + after.format_map({**p, "endpoint": _endpoint(p)})

    return say


def _succeeded(p: dict[str, Any]) -> tuple[str, str]:
    was = f" (was v{p['previous_version']})" if p.get("previous_version") else ""
    return "deployed", f" to {_endpoint(p)}: it is live{was}"


VERBS: dict[str, Any] = {
    "group.created": lambda p: ("created", ""),
    "group.updated": _updated,
    "group.deleted": lambda p: ("deleted", ""),
    "group.pickle_policy": lambda p: (
        "allowed pickle files in" if p.get("allow_pickle") else "refused pickle in",
        "",
    ),
    "group.signature_policy": lambda p: (
        "required model signatures in"
        if p.get("require_model_signature")
        else "stopped requiring model signatures in",
        "",
    ),
    "group.trusted_key_added": lambda p: (
        f"trusted signing key {p.get('name', '?')} in",
        "",
    ),
    "group.trusted_key_removed": lambda p: (
        f"stopped trusting signing key {p.get('name', '?')} in",
        "",
    ),
    "version.registered": lambda p: ("registered", ""),
    "version.updated": _updated,
    "version.deleted": lambda p: ("deleted", ""),
    "alias.set": _alias_set,
    "alias.deleted": lambda p: (f"removed @{p.get('alias', '?')} from", ""),
    "review.submitted": _review,
    "version.approved": _approved,
    "version.rejected": _rejected,
    "version.resubmitted": lambda p: ("resubmitted", " for review"),
    "policy.updated": lambda p: ("changed the approval policy of", ""),
    "endpoint.created": lambda p: (f"created endpoint {_endpoint(p)} for", ""),
    "endpoint.updated": lambda p: (f"changed endpoint {_endpoint(p)} of", ""),
    "endpoint.deleted": lambda p: (f"deleted endpoint {_endpoint(p)} of", ""),
    "endpoint.stopped": lambda p: (
        f"stopped endpoint {_endpoint(p)} of",
        f": {p['message']}" if p.get("message") else "",
    ),
    "deployment.queued": _deployment("queued", "for {endpoint}"),
    "deployment.running": _deployment("started deploying", "to {endpoint}"),
    "deployment.retrying": _deployment("will retry deploying", "to {endpoint}"),
    "deployment.succeeded": _succeeded,
    "deployment.failed": _deployment("failed to deploy", "to {endpoint}"),
    "deployment.superseded": _deployment("superseded a deployment of", "to {endpoint}"),
    "deployment.cancelled": _deployment("cancelled a deployment of", "to {endpoint}"),
}


def sentence(event: Event) -> Sentence:
    """The event in words; unknown kinds say their kind."""
    subject, url = _subject(event)
    payload = event.payload if isinstance(event.payload, dict) else {}
    say = VERBS.get(event.kind)
    try:
        verb, rest = say(payload) if say else (event.kind, "")
    except (KeyError, TypeError, ValueError):
        verb, rest = event.kind, ""
    if event.kind.startswith("webhook."):
        verb = f"{event.kind.split('.')[1]} a webhook"
    return Sentence(
        actor=event.actor_name or "system",
        verb=verb,
        subject=subject,
        url=url,
        rest=rest,
    )
