"""Error pages for requests no view answered: the API speaks its JSON error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from common.errors import error_body


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    """A URL that matches no route (for example ``/api/v1/tokens/abc/``)."""
    if _is_api(request):
        return JsonResponse(error_body(404, "not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)
