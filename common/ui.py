"""What every page's forms share: the way back, outcome messages, field errors,
and the confirmation that production-changing actions ask for.

The access rule of pages is ``accounts.decorators.registry_page``: this module
imports no app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from common.errors import Conflict, Invalid


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


def confirmed(request: HttpRequest) -> bool:
    """True when the form says the user confirmed (the dialog or the confirm page)."""
    return request.POST.get("confirm") == "1"


def confirm_page(
    request: HttpRequest,
    *,
    title: str,
    consequences: list[str],
    button: str,
    cancel: str,
    note: str = "",
) -> HttpResponse:
    """Ask before a production-changing POST runs (the page a browser without
    JavaScript sees; with it, a dialog asks first and the form arrives confirmed).

    The page posts the same fields back to the same address with ``confirm=1``.
    """
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in {"csrfmiddlewaretoken", "confirm"}
        for value in values
    ]
    return render(
        request,
        "partials/confirm_page.html",
        {
            "title": title,
            "consequences": consequences,
            "button": button,
            "cancel": back_url(request, cancel),
            "action": request.path,
            "fields": fields,
            "note": note,
        },
    )
