"""Web UI of endpoints: list, detail with live deployment status, rollback, try it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import registry_page
from accounts.roles import Role, has_role, require_role
from common.errors import Conflict, Invalid, NotFound
from common.ui import act, confirm_page, confirmed, form_errors
from deployments import selectors, services, serving
from deployments.forms import DeployForm, EndpointSettingsForm, TryItForm
from deployments.loader import InputError
from deployments.models import Deployment, Endpoint, Target
from deployments.services import ray_target
from deployments.services.endpoints import DEPLOY_ROLES

ENDPOINTS_PER_PAGE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@registry_page
@require_GET
def endpoint_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.endpoint_list(), ENDPOINTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "deployments/endpoint_list.html", {"page": page})


def _panel_context(
    request: HttpRequest, endpoint: Endpoint, panel: selectors.Panel | None = None
) -> dict[str, Any]:
    """The live part of the page: live version, history, rollback (for deployers)."""
    deployer = has_role(request.user, Role.DEPLOYER)
    target = services.rollback_target(endpoint) if deployer else None
    return {
        "endpoint": endpoint,
        "panel": panel or selectors.endpoint_panel(endpoint),
        "is_deployer": deployer,
        "processes": _processes(endpoint.name),
        "rollback_target": target,
        "rollback": selectors.deploy_switch(endpoint, target.version)
        if target
        else None,
        # "No earlier approved version" only when there is none at all.
        "other_approved": deployer
        and target is None
        and any(
            number != getattr(endpoint.live_version, "version", None)
            for number in selectors.approved_numbers(endpoint, limit=2)
        ),
    }


def _processes(name: str) -> list[dict[str, Any]]:
    """What each serving process of this machine answers with on ``name``."""
    found = []
    for status in serving.processes():
        seen = status["endpoints"].get(name)
        if seen is None:
            continue
        found.append(
            {
                "host": status["host"],
                "pid": status["pid"],
                "serving_version": seen["serving_version"],
                "loading": seen["loading_version_id"] is not None,
                "evicted": seen.get("evicted", False),
                "failed": "; ".join(f["message"] for f in seen["failed"].values()),
            }
        )
    return found


def _detail(
    request: HttpRequest,
    endpoint: Endpoint,
    try_form: TryItForm,
    result: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
    settings_form: EndpointSettingsForm | None = None,
) -> HttpResponse:
    context = _panel_context(request, endpoint)
    if settings_form is None and context["is_deployer"]:
        settings_form = EndpointSettingsForm(endpoint=endpoint)
    context.update(
        try_form=try_form,
        settings_form=settings_form,
        result=result,
        error=error,
        approved=[
            selectors.deploy_switch(endpoint, number)
            for number in selectors.approved_numbers(endpoint)
        ]
        if context["is_deployer"]
        else [],
        ray=ray_target.page_facts(endpoint) if endpoint.target == Target.RAY else None,
    )
    return render(request, "deployments/endpoint_detail.html", context, status=status)


@registry_page
@require_GET
def endpoint_detail(request: HttpRequest, name: str) -> HttpResponse:
    endpoint = selectors.endpoint_get(name)
    live = endpoint.live_version
    sample = TryItForm.initial_body(live.sample_payload if live else None)
    return _detail(request, endpoint, TryItForm(initial={"body": sample}))


@never_cache
@registry_page
@require_GET
def endpoint_panel(request: HttpRequest, name: str) -> HttpResponse:
    """The live fragment that htmx polls; 204 (no swap) while nothing changed."""
    endpoint = selectors.endpoint_get(name)
    panel = selectors.endpoint_panel(endpoint)
    if request.GET.get("state") == panel.state:
        return HttpResponse(status=204)
    return render(
        request, "deployments/_panel.html", _panel_context(request, endpoint, panel)
    )


@registry_page
@require_POST
def endpoint_rollback(request: HttpRequest, name: str) -> HttpResponse:
    """Deploy the previous version that served (deployments.services.deployment_rollback),
    once the deployer has confirmed the switch it names."""
    require_role(request.user, *DEPLOY_ROLES, action="roll back endpoints")
    endpoint = selectors.endpoint_get(name)
    target = services.rollback_target(endpoint)
    if target is not None and not confirmed(request):
        switch = selectors.deploy_switch(endpoint, target.version)
        return confirm_page(
            request,
            title=f"{switch.verb} on {name}?",
            consequences=[switch.will],
            button=switch.verb,
            cancel=reverse("deployments:endpoint", kwargs={"name": name}),
        )

    def done(deployment: Deployment) -> str:
        return _said(selectors.deploy_switch(endpoint, deployment.version.version))

    return act(
        request,
        lambda: services.deployment_rollback(actor=request.user, endpoint=endpoint),
        done=done,
        back=reverse("deployments:endpoint", kwargs={"name": name}),
    )


@registry_page
@require_POST
def endpoint_deploy(request: HttpRequest, name: str) -> HttpResponse:
    """Deploy an Approved version by hand (deployments.services.deployment_request),
    once the deployer has confirmed the switch it names."""
    require_role(request.user, *DEPLOY_ROLES, action="deploy versions")
    endpoint = selectors.endpoint_get(name)
    form = DeployForm(request.POST)
    number = form.cleaned_data["version"] if form.is_valid() else None
    switch = selectors.deploy_switch(endpoint, number)
    if selectors.deployable(endpoint, number) and not confirmed(request):
        return confirm_page(
            request,
            title=f"{switch.verb} on {name}?",
            consequences=[switch.will],
            button=switch.verb,
            cancel=reverse("deployments:endpoint", kwargs={"name": name}),
        )
    return act(
        request,
        lambda: services.deployment_request(
            actor=request.user, endpoint=endpoint, version_number=number
        ),
        done=_said(switch),
        back=reverse("deployments:endpoint", kwargs={"name": name}),
    )


@registry_page
@require_POST
def endpoint_settings(request: HttpRequest, name: str) -> HttpResponse:
    """Change the endpoint's settings (deployments.services.endpoint_update); invalid
    values come back on the form, next to the field they concern."""
    require_role(request.user, *DEPLOY_ROLES, action="change endpoints")
    endpoint = selectors.endpoint_get(name)
    form = EndpointSettingsForm(request.POST, endpoint=endpoint)
    if form.is_valid():
        changes = form.changes()
        try:
            if changes:
                services.endpoint_update(
                    actor=request.user, endpoint=endpoint, **changes
                )
        except (Invalid, Conflict) as exc:
            form_errors(form, exc)
            endpoint = selectors.endpoint_get(name)  # as stored, not as tried
        else:
            said = ", ".join(str(form.fields[n].label or n) for n in changes)
            messages.success(
                request, f"Saved: {said}." if changes else "Nothing was changed."
            )
            return redirect("deployments:endpoint", name=name)
    live = endpoint.live_version
    sample = TryItForm.initial_body(live.sample_payload if live else None)
    return _detail(
        request,
        endpoint,
        TryItForm(initial={"body": sample}),
        status=400,
        settings_form=form,
    )


def _said(switch: selectors.Switch) -> str:
    """The success message: what happens to the endpoint, as a sentence."""
    return f"Deployment queued: {switch.done}."


def _predict(name: str, inputs: Any) -> tuple[dict[str, Any] | None, str, int]:
    try:
        live, outputs = serving.predict(name, inputs)
    except serving.UnknownEndpoint as exc:
        raise NotFound(f"Endpoint {name!r} does not exist.") from exc
    except (serving.NotServing, serving.TimedOut) as exc:
        return None, str(exc), 503
    except InputError as exc:
        return None, str(exc), 400
    return {"model_version": live.version_number, "outputs": outputs}, "", 200


def _try(endpoint: Endpoint, form: TryItForm) -> tuple[dict | None, str, int]:
    if not form.is_valid():
        return None, "; ".join(map(str, form.errors.get("body") or [])), 400
    inputs = form.cleaned_data["body"]
    if inputs is None and endpoint.live_version is not None:
        inputs = TryItForm.sample_inputs(endpoint.live_version.sample_payload)
    if inputs is None:
        return None, "Send a request body: the live version has no sample.", 400
    return _predict(endpoint.name, inputs)


@registry_page
@require_POST
def endpoint_try(request: HttpRequest, name: str) -> HttpResponse:
    """Send a request body through the endpoint's live model and show the answer."""
    endpoint = selectors.endpoint_get(name)
    form = TryItForm(request.POST)
    result, error, status = _try(endpoint, form)
    if _is_htmx(request):
        # htmx swaps only successful answers: the error goes in the fragment itself.
        return render(
            request,
            "deployments/_prediction.html",
            {"endpoint": endpoint, "result": result, "error": error},
        )
    return _detail(request, endpoint, form, result, error, status)
