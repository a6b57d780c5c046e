"""The catalog's pages: the catalog, a group, a version, compare, activity.

They show what several apps know (versions with their reviews, verdicts and where
they are live), so they live here, above the apps. Views are thin: read through the
selectors, ask the policies what the user may do, call one service for a form,
render. The rules live in the services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import registry_page
from accounts.roles import Role, has_role, require_role
from approvals import policies
from approvals import selectors as approval_selectors
from approvals import services as approval_services
from approvals.forms import ReviewForm
from catalog import attestations, filters, folders, selectors, services
from catalog.filters import EventFilterSet, GroupFilterSet, VersionFilterSet
from catalog.forms import VersionEditForm
from catalog.models import ApprovalStatus, EventKind, ModelGroup, ModelVersion
from common.errors import Conflict, Invalid
from common.ui import act, confirm_page, confirmed, form_errors
from deployments import selectors as deployment_selectors
from pages.activity import sentence
from pages.baselines import baselines, metric_rows
from pages.contract import contract, lineage_facts
from pages.templatetags.registry_ui import column_decimals, status_name

GROUPS_PER_PAGE = 25
INBOX_PAGE = 20
ACTIVITY_FILTERS = ("kind", "group", "actor", "since", "until")
ACTIVITY_GROUP_CHOICES = 500
VERSIONS_PER_PAGE = 25


@registry_page
@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    """Every model group: search, tag filter, sort, pages."""
    error = ""
    _, order = selectors.GROUP_SORTS.get(
        request.GET.get("sort", ""), selectors.GROUP_SORTS["name"]
    )
    try:
        found = filters.arguments(GroupFilterSet, request.GET, only=("q", "tag"))
        ids = selectors.group_list(**found, ordering=order).values_list("pk", flat=True)
        page = Paginator(ids, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
        groups = selectors.group_rows(list(page))
    except Invalid as exc:
        error, groups = exc.message, []
        page = Paginator(
            ModelGroup.objects.none().values_list("pk", flat=True), GROUPS_PER_PAGE
        ).get_page(1)
    endpoints = deployment_selectors.endpoints_by_group(g.pk for g in groups)
    rows = [(group, endpoints.get(group.pk, [])) for group in groups]
    return render(
        request,
        "pages/catalog.html",
        {
            "page": page,
            "rows": rows,
            "error": error,
            "sorts": {key: label for key, (label, _) in selectors.GROUP_SORTS.items()},
            "sort": request.GET.get("sort", "name"),
        },
        status=400 if error else 200,
    )


def _version_ordering(sort: str) -> str:
    """The page's ``sort`` as a version ordering; anything else keeps the default."""
    if sort in selectors.VERSION_SORTS or sort.lstrip("-").startswith("metric:"):
        return sort
    return ""


@registry_page
@require_GET
def group(request: HttpRequest, group: str) -> HttpResponse:
    """A group's versions (filtered, paginated), its metrics chart, policy, endpoints."""
    model_group = selectors.group_get(group)
    policy = policies.policy_for(model_group)
    error = ""
    try:
        found = filters.arguments(
            VersionFilterSet, request.GET, only=("approval_status", "metric", "tag")
        )
        rows = selectors.version_list(
            group=model_group,
            **found,
            ordering=_version_ordering(request.GET.get("sort", "")),
            brief=True,
        )
        page = Paginator(rows, VERSIONS_PER_PAGE).get_page(request.GET.get("page"))
        versions = list(page)
    except Invalid as exc:
        error, versions = exc.message, []
        page = Paginator(ModelVersion.objects.none(), VERSIONS_PER_PAGE).get_page(1)
    live_on = deployment_selectors.live_endpoints_by_version(v.pk for v in versions)
    gated = [gate["metric"] for gate in policy.metric_gates]
    names = selectors.key_metrics(versions, gated)
    series = selectors.metric_series(model_group)
    chosen = [m for m in request.GET.getlist("chart") if m in series["metrics"]]
    # By default: the gated metrics, then those most versions report.
    default = [m for m in gated if m in series["metrics"]] + [
        m for m in series.pop("most_reported") if m not in gated
    ]
    series["shown"] = chosen or default[:3]
    group_endpoints = deployment_selectors.endpoints_by_group([model_group.pk]).get(
        model_group.pk, []
    )
    series["marks"] = _chart_marks(model_group, group_endpoints)
    series["url"] = reverse("catalog:group", kwargs={"group": model_group.name})
    return render(
        request,
        "pages/group.html",
        {
            "group": model_group,
            "policy": policy,
            "page": page,
            "rows": [(v, live_on.get(v.pk, [])) for v in versions],
            "metric_names": names,
            "decimals": {
                name: column_decimals([v.metrics.get(name) for v in versions])
                for name in names
            },
            "series": series,
            "endpoints": group_endpoints,
            "statuses": ApprovalStatus.choices,
            "sorts": selectors.VERSION_SORTS,
            "error": error,
        },
        status=400 if error else 200,
    )


def _chart_marks(group: ModelGroup, endpoints: list[Any]) -> dict[str, list[str]]:
    """Labels for versions worth marking on the chart: live where, and aliases."""
    marks: dict[str, list[str]] = {}
    for endpoint in endpoints:
        if endpoint.live_version is not None:
            key = str(endpoint.live_version.version)
            marks.setdefault(key, []).append(f"live: {endpoint.name}")
    for alias in selectors.alias_list(group):
        marks.setdefault(str(alias.version.version), []).append(f"@{alias.name}")
    return marks


def _timeline(version: ModelVersion) -> list[dict[str, Any]]:
    """Reviews and metadata edits of a version, in the order they happened."""
    reviews = approval_selectors.version_reviews(version)
    entries = [{"at": r.created_at, "review": r} for r in reviews]
    entries += [
        {"at": e.created_at, "edit": e} for e in selectors.version_edits(version)
    ]
    return sorted(entries, key=lambda entry: entry["at"])


def _revoke_dialog(version: ModelVersion) -> dict[str, Any]:
    """What the "Revoke approval" dialog says: the consequence on each endpoint."""
    plan = deployment_selectors.revocation_plan(version)
    return {
        "id": f"revoke-{version.pk}",
        "title": f"Revoke the approval of {version.group.name} v{version.version}?",
        "consequences": [s.will for s in plan],
    }


def _version_page(
    request: HttpRequest,
    version: ModelVersion,
    *,
    edit_form: VersionEditForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    can_edit = has_role(user, Role.CONTRIBUTOR)
    if can_edit and edit_form is None:
        edit_form = VersionEditForm(version=version)
    verdict = policies.verdict(version, user)
    found = baselines([version])[version.pk]
    revocable = version.approval_status == ApprovalStatus.APPROVED and verdict.get(
        "can_review"
    )
    live_on = deployment_selectors.live_endpoints_by_version([version.pk]).get(
        version.pk, []
    )
    context: dict[str, Any] = {
        "group": version.group,
        "version": version,
        "contract": contract(
            version,
            endpoint=live_on[0] if live_on else None,
            base_url=request.build_absolute_uri("/"),
        ),
        "policy": policies.policy_for(version.group),
        "verdict": verdict,
        "revoke_plan": _revoke_dialog(version) if revocable else None,
        "baselines": found,
        "lineage": lineage_facts(version.lineage),
        "history": deployment_selectors.service_history(version),
        "baseline_rows": metric_rows(version, found),
        "live_baseline": next((b for b in found if b.live), None),
        "computed_rows": selectors.computed_rows(
            version,
            live_id=next((b.version_id for b in found if b.live), None),
        ),
        "timeline": _timeline(version),
        "deployments": deployment_selectors.deployments_of_version(version.pk),
        "live_on": live_on,
        "can_edit": can_edit,
        "edit_form": edit_form,
        "review_form": ReviewForm(),
        "can_resubmit": can_edit and version.approval_status == ApprovalStatus.REJECTED,
        "artifact_url": reverse(
            "api:version-artifact",
            kwargs={"group_name": version.group.name, "version": version.version},
        ),
        "manifest": _manifest_rows(version),
        **_attestation_facts(version),
    }
    return render(request, "pages/version.html", context, status=status)


def _manifest_rows(version: ModelVersion) -> list[dict[str, Any]]:
    """A folder version's files, each with its download link (empty for a file)."""
    if not version.is_folder:
        return []
    base = reverse(
        "api:version-file",
        kwargs={
            "group_name": version.group.name,
            "version": version.version,
            "path": "-",
        },
    ).removesuffix("-")
    return [
        {**entry, "url": base + entry["path"]}
        for entry in folders.public_manifest(version)
    ]


def _attestation_facts(version: ModelVersion) -> dict[str, Any]:
    """The version's signed approval (and revocation) for the Artifact section."""
    current = attestations.attestation_current(version)
    if current is None:
        return {"attestation": None}
    revoked_by = ""
    if current.revocation is not None:
        revoked_by = (
            current.revocation_predicate().get("revoked_by")
            or "the registry (the approval expired)"
        )
    return {
        "attestation": {
            "approval": current.approval,
            "revocation": current.revocation,
            "revoked_by": revoked_by,
        },
        "attestation_url": reverse(
            "api:version-attestation",
            kwargs={"group_name": version.group.name, "version": version.version},
        ),
        "signing_keys_url": reverse("api:signing-keys"),
    }


@registry_page
@require_GET
def version(request: HttpRequest, group: str, number: int) -> HttpResponse:
    """A version: metadata, model card, artifact, review, deployments."""
    return _version_page(request, selectors.version_get(group, number))


@registry_page
@require_POST
def version_edit(request: HttpRequest, group: str, number: int) -> HttpResponse:
    """Contributors change a version's editable metadata (catalog.services.version_update)."""
    require_role(request.user, Role.CONTRIBUTOR, action="edit model versions")
    current = selectors.version_get(group, number)
    form = VersionEditForm(request.POST, version=current)
    if form.is_valid():
        try:
            services.version_update(
                actor=request.user, version=current, **form.changes()
            )
        except (Invalid, Conflict) as exc:
            form_errors(form, exc)
        else:
            messages.success(request, f"Saved the metadata of version {number}.")
            return redirect("catalog:version", group=group, number=number)
    current = selectors.version_get(group, number)
    return _version_page(request, current, edit_form=form, status=400)


@registry_page
@require_POST
def version_revoke(request: HttpRequest, group: str, number: int) -> HttpResponse:
    """Revoke an Approved version's approval, once the reviewer has seen what it does
    to each endpoint (approvals.services.review_submit does it)."""
    require_role(request.user, Role.REVIEWER, action="review versions")
    version = selectors.version_get(group, number)
    back = reverse("catalog:version", kwargs={"group": group, "number": number})
    comment = request.POST.get("comment", "")
    if version.approval_status != ApprovalStatus.APPROVED:
        messages.info(
            request,
            f"Nothing to revoke: {group} v{number} is "
            f"{version.get_approval_status_display()}.",
        )
        return redirect(back)
    if not comment.strip():
        messages.error(request, "Say why in the comment to revoke the approval.")
        return redirect(back)
    plan = deployment_selectors.revocation_plan(version)
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Revoke the approval of {group} v{number}?",
            consequences=[s.will for s in plan]
            or [f"No endpoint serves v{number}; nothing changes in production"],
            button="Revoke approval",
            cancel=back,
            note=f"Your reason: {comment}",
        )

    def done(_: Any) -> str:
        outcome = "; ".join(s.done for s in plan) or "no endpoint served it"
        return f"Revoked the approval of {group} v{number}: {outcome}."

    return act(
        request,
        lambda: approval_services.review_submit(
            actor=request.user, version=version, decision="reject", comment=comment
        ),
        done=done,
        back=back,
    )


@registry_page
@require_POST
def alias_set(request: HttpRequest, group: str) -> HttpResponse:
    """Point an alias at a version, creating or moving it (catalog.services.alias_set)."""
    model_group = selectors.group_get(group)
    name = request.POST.get("name", "").strip()
    number = request.POST.get("version", "")
    version_number = int(number) if number.isdigit() else number
    back = reverse("catalog:group", kwargs={"group": group})
    return act(
        request,
        lambda: services.alias_set(
            actor=request.user,
            group=model_group,
            name=name,
            version_number=version_number,
        ),
        done=lambda alias: f"@{alias.name} points at {group} v{alias.version.version}.",
        back=back,
    )


@registry_page
@require_POST
def alias_delete(request: HttpRequest, group: str, name: str) -> HttpResponse:
    """Remove an alias (catalog.services.alias_delete); its version stays."""
    model_group = selectors.group_get(group)
    return act(
        request,
        lambda: services.alias_delete(actor=request.user, group=model_group, name=name),
        done=f"Removed @{name} from {group}.",
        back=reverse("catalog:group", kwargs={"group": group}),
    )


def _numbers(request: HttpRequest) -> list[int]:
    """``versions=1,3`` (or repeated ``versions``) as distinct numbers, in order."""
    numbers: list[int] = []
    for value in request.GET.getlist("versions"):
        for part in value.replace(" ", ",").split(","):
            if part.isdigit() and int(part) not in numbers:
                numbers.append(int(part))
    return numbers[: selectors.COMPARE_MAX]


@registry_page
@require_GET
def compare(request: HttpRequest, group: str) -> HttpResponse:
    """Two or more versions side by side; ``diff=1`` keeps only the rows that differ."""
    model_group = selectors.group_get(group)
    numbers = _numbers(request)
    versions = (
        selectors.versions_for_compare(model_group, numbers)
        if len(numbers) >= 2
        else []
    )
    differences_only = request.GET.get("diff") == "1"
    sections = selectors.comparison(versions) if versions else []
    for section in sections[:1]:  # Summary: the status in the words badges use
        for row in section.rows:
            if row.label == "Status":
                row.values = [status_name(v.approval_status) for v in versions]
    metrics = next((s for s in sections if s.title == "Metrics"), None)
    chart = {
        "labels": [f"v{v.version}" for v in versions],
        "metrics": [r.label for r in metrics.rows] if metrics else [],
        "values": [[r.numbers[i] for r in metrics.rows] for i in range(len(versions))]
        if metrics
        else [],
    }
    return render(
        request,
        "pages/compare.html",
        {
            "group": model_group,
            "versions": versions,
            "numbers": ",".join(str(n) for n in numbers),
            "sections": [
                (s, s.shown(differences_only))
                for s in sections
                if s.shown(differences_only)
            ],
            "differences_only": differences_only,
            "chart": chart,
        },
    )


@registry_page
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """Versions waiting for the user's review, oldest first: each a compact row of
    metrics beside what is live, the verdict, and the review form; a group filter
    and the totals per group."""
    if not has_role(request.user, Role.REVIEWER):
        messages.info(request, "Only reviewers have a review inbox.")
    group_name = request.GET.get("group", "")
    page_number = request.GET.get("page", "1")
    page = int(page_number) if page_number.isdigit() and int(page_number) > 0 else 1
    start = (page - 1) * INBOX_PAGE
    versions = list(
        approval_selectors.inbox(request.user, group=group_name)
        .select_related("group__approval_policy", "created_by")
        .defer(*selectors.LIST_DEFERRED)[start : start + INBOX_PAGE + 1]
    )
    more = len(versions) > INBOX_PAGE
    versions = versions[:INBOX_PAGE]
    verdicts = policies.verdicts(versions, request.user)
    found = baselines(versions)
    totals = approval_selectors.inbox_totals(request.user)
    return render(
        request,
        "pages/inbox.html",
        {
            "rows": [
                (v, verdicts[v.pk], found[v.pk], metric_rows(v, found[v.pk]))
                for v in versions
            ],
            "page": page,
            "next_page": page + 1 if more else None,
            "previous_page": page - 1 if page > 1 else None,
            "totals": totals,
            "total": sum(n for _, n in totals),
            "group": group_name,
            "expiring": approval_selectors.expiring(request.user),
            "now": timezone.now(),
        },
    )


@registry_page
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """The event log, newest first, filtered by group, kind, actor and time."""
    before = request.GET.get("before", "")
    errors: dict[str, list[str]] = {}
    try:
        found = filters.arguments(EventFilterSet, request.GET, only=ACTIVITY_FILTERS)
    except Invalid as exc:  # say what was wrong, and filter by the rest
        errors = exc.fields
        valid = [name for name in ACTIVITY_FILTERS if name not in errors]
        found = filters.arguments(EventFilterSet, request.GET, only=valid)
    events, more = selectors.event_page(
        before=int(before) if before.isdigit() else None, **found
    )
    return render(
        request,
        "pages/activity.html",
        {
            "events": [(event, sentence(event)) for event in events],
            "group_names": selectors.group_names(limit=ACTIVITY_GROUP_CHOICES),
            "before": more,
            "filters_invalid": bool(errors),
            "filter_errors": errors,
            "kinds": EventKind.values,
        },
        status=400 if errors else 200,
    )
