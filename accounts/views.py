"""Web UI: the access rule every page shares, and the API tokens page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import TokenForm
from accounts.models import ApiToken
from accounts.roles import can_read
from registry_site.errors import Conflict, Forbidden, Invalid, NotFound

NO_ROLE = "You need a registry role (viewer or above) to use the registry."

# --- Shared by every page ---------------------------------------------------------


def registry_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in required (redirect), a registry role required (403), and the domain's
    Forbidden/NotFound shown as the 403/404 pages."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_read(request.user):
            raise PermissionDenied(NO_ROLE)
        try:
            return view(request, *args, **kwargs)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return login_required(wrapped)


def back_url(request: HttpRequest, fallback: str) -> str:
    """The form's ``next`` if it points into this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def act(
    request: HttpRequest,
    call: Callable[[], Any],
    *,
    done: str | Callable[[Any], str],
    back: str,
) -> HttpResponse:
    """Run one service call for a form; report the outcome and go back (POST/redirect/GET).

    A refusal (Forbidden) propagates to the 403 page; invalid input or a wrong state
    becomes an error message on the page the user came from.
    """
    try:
        result = call()
    except (Invalid, Conflict) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done(result) if callable(done) else done)
    return redirect(back_url(request, back))


def form_errors(form: Any, exc: Invalid | Conflict) -> None:
    """Put a service's field errors on the form fields they name."""
    placed = False
    for name, errors in exc.fields.items():
        field = name.split(".")[0].split("[")[0]
        if field in form.fields:
            for error in errors:
                form.add_error(field, str(error))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# --- API tokens ---------------------------------------------------------------------


@never_cache
@registry_page
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The user's API tokens; POST creates one and shows its key this once."""
    form = TokenForm(request.POST or None)
    new_key = ""
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_days"]
        _, new_key = services.token_issue(
            user=request.user,
            name=form.cleaned_data["name"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        form = TokenForm()
    user: Any = request.user  # signed in: registry_page made sure
    rows = ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
    status = 400 if form.errors else 200
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "tokens": rows, "new_key": new_key, "now": timezone.now()},
        status=status,
    )


@registry_page
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    token = get_object_or_404(ApiToken, pk=pk, user=user)
    services.token_revoke(token=token)
    messages.success(request, f"Token {token.prefix}… is revoked.")
    return redirect("accounts:tokens")
