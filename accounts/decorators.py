"""The access rule of every server-rendered page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from accounts.roles import can_read
from common.errors import Forbidden, NotFound

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
