"""Web UI of the review workflow: the review and resubmit forms (the inbox, which
shows what is live beside each candidate, is a page of ``pages``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import registry_page
from approvals import services
from approvals.forms import ResubmitForm, ReviewForm
from catalog import selectors as catalog_selectors
from catalog.models import ApprovalStatus
from common.ui import act, back_url, confirmed


def _outcome(outcome: services.ReviewOutcome) -> str:
    version = outcome.version
    if not outcome.created:
        return (
            f"Nothing changed: version {version.version} is {version.approval_status}."
        )
    decision = outcome.review.get_decision_display() if outcome.review else "Review"
    return (
        f"{decision} recorded on {version.group.name} v{version.version}; "
        f"it is {version.get_approval_status_display()}."
    )


@registry_page
@require_POST
def review(request: HttpRequest, group: str, number: int) -> HttpResponse:
    """Approve, reject or comment (approvals.services.review_submit decides)."""
    version = catalog_selectors.version_get(group, number)
    back = reverse("catalog:version", kwargs={"group": group, "number": number})
    revoking = (
        request.POST.get("decision") == "reject"
        and version.approval_status == ApprovalStatus.APPROVED
    )
    if revoking and not confirmed(request):
        # Revoking changes production: the revoke page says what and asks first
        # (307 keeps the method and the form).
        revoke = reverse(
            "catalog:version-revoke", kwargs={"group": group, "number": number}
        )
        return HttpResponseRedirect(revoke, preserve_request=True)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Press Approve, Reject or Comment (at most 10,000 characters)."
        )
        return redirect(back_url(request, back))
    return act(
        request,
        lambda: services.review_submit(
            actor=request.user,
            version=version,
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        ),
        done=_outcome,
        back=back,
    )


@registry_page
@require_POST
def resubmit(request: HttpRequest, group: str, number: int) -> HttpResponse:
    """Send a Rejected version back for review (approvals.services.version_resubmit)."""
    version = catalog_selectors.version_get(group, number)
    back = reverse("catalog:version", kwargs={"group": group, "number": number})
    form = ResubmitForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    return act(
        request,
        lambda: services.version_resubmit(
            actor=request.user, version=version, comment=comment
        ),
        done=f"Version {number} is back in review ({ApprovalStatus.PENDING.label}).",
        back=back,
    )
