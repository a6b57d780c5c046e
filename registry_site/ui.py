"""What every page shares: the access rule, form helpers and outcome messages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.roles import can_read
from registry_site.errors import Conflict, Forbidden, Invalid, NotFound

NO_ROLE = "You need a registry role (viewer or above) to use the registry."


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
