"""Web UI of the review workflow: the inbox, and the review and resubmit forms."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import registry_page
from accounts.roles import Role, has_role
from approvals import policies, selectors, services
from approvals.forms import ResubmitForm, ReviewForm
from catalog import selectors as catalog_selectors
from catalog.models import ApprovalStatus
from registry_site.ui import act, back_url, confirmed

INBOX_PAGE = 20


@registry_page
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """Versions waiting for the user's review, oldest first, with the review form."""
    if not has_role(request.user, Role.REVIEWER):
        messages.info(request, "Only reviewers have a review inbox.")
    page_number = request.GET.get("page", "1")
    page = int(page_number) if page_number.isdigit() and int(page_number) > 0 else 1
    start = (page - 1) * INBOX_PAGE
    versions = list(
        selectors.inbox(request.user)
        .select_related("group__approval_policy", "created_by")
        .defer(*catalog_selectors.LIST_DEFERRED)[start : start + INBOX_PAGE + 1]
    )
    more = len(versions) > INBOX_PAGE
    versions = versions[:INBOX_PAGE]
    verdicts = policies.verdicts(versions, request.user)
    return render(
        request,
        "approvals/inbox.html",
        {
            "rows": [(v, verdicts[v.pk]) for v in versions],
            "page": page,
            "next_page": page + 1 if more else None,
            "previous_page": page - 1 if page > 1 else None,
            "review_form": ReviewForm(),
        },
    )


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
