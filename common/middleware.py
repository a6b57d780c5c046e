"""Site-wide response rules: the Content-Security-Policy header, and a quick 503 when
the database is unreachable (a restart, a failover) instead of a 500 page."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from common.errors import error_body

logger = logging.getLogger(__name__)

# Scripts and styles only from files this site serves (htmx and uPlot are vendored),
# no inline code, and no page of ours inside another site's frame.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)


class ContentSecurityPolicyMiddleware:
    """Every response carries the site's Content-Security-Policy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503 with ``Retry-After``.

    Exceptions raised outside a view (a middleware, the session) reach the same answer
    through ``handler500`` (registry_site.views.server_error).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, DataError):
            return unstorable_input(request, exception)
        if not is_database_error(exception):
            return None
        return database_unavailable(request, exception)


def unstorable_input(request: HttpRequest, exception: BaseException) -> HttpResponse:
    """The database refused a value of the request (a NUL character, a number out of
    its column's range): the client's input, so a 400, not a 500."""
    logger.warning(
        "database refused a value: %s %s: %s", request.method, request.path, exception
    )
    message = (
        "A value in the request cannot be stored: it contains a NUL character "
        "or is out of range."
    )
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(400, "invalid", message), status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def is_database_error(exception: BaseException | None) -> bool:
    """The database could not be reached or dropped the connection."""
    while exception is not None:
        if isinstance(exception, DATABASE_ERRORS):
            return True
        exception = exception.__cause__
    return False


def database_unavailable(
    request: HttpRequest, exception: BaseException
) -> HttpResponse:
    """JSON for the API, a plain page (no database needed to draw it) for the rest."""
    logger.error(
        "database unavailable: %s %s",
        request.method,
        request.path,
        exc_info=(type(exception), exception, exception.__traceback__),
    )
    message = "The database is unavailable; try again in a few seconds."
    response: HttpResponse
    if request.path.startswith("/api/"):
        body = error_body(503, "database_unavailable", message)
        response = JsonResponse(body, status=503)
    else:
        response = HttpResponse(
            render_to_string("503.html", {"message": message}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
