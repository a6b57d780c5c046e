"""One error type for the domain, and the one JSON shape every API error takes.

Every error answer looks like::

    {"error": {"status": 400, "code": "invalid",
               "message": "name: Use letters, digits and single hyphens.",
               "fields": {"name": ["Use letters, digits and single hyphens."]}}}

``fields`` names the offending input fields (it is ``{}`` when no field is to blame).
"""

from __future__ import annotations

from typing import Any, Self

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class DomainError(Exception):
    """A rule of the registry refused the request; ``status`` says how to answer."""

    status = 400
    code = "invalid"

    def __init__(
        self, message: str, *, fields: dict[str, Any] | None = None, **extra: Any
    ):
        super().__init__(message)
        self.message = message
        self.fields = {
            k: v if isinstance(v, list) else [v] for k, v in (fields or {}).items()
        }
        self.extra = extra

    @classmethod
    def on(cls, field: str, message: str, **extra: Any) -> Self:
        """The error of one input field: ``Invalid.on("name", "Required.")``."""
        return cls(f"{field}: {message}", fields={field: message}, **extra)


class Invalid(DomainError):
    status, code = 400, "invalid"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class TooLarge(DomainError):
    status, code = 413, "too_large"


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"field.sub": ["message", ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key in ("non_field_errors", "__all__"):
                name = prefix or "non_field_errors"
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            name = prefix
            if isinstance(item, dict | list):
                name = f"{prefix}[{index}]" if prefix else str(index)
            for k, v in _flatten(item, name).items():
                out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _message(fields: dict[str, list[str]], fallback: str) -> str:
    if not fields:
        return fallback
    parts = [
        f"{name}: {msgs[0]}" if name != "non_field_errors" else msgs[0]
        for name, msgs in fields.items()
    ]
    return "; ".join(parts)


def error_body(
    status_code: int, code: str, message: str, fields: dict | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "error": {
            "status": status_code,
            "code": code,
            "message": message,
            "fields": fields or {},
            **extra,
        }
    }


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map domain, Django and DRF errors to the one documented JSON shape."""
    # Imported here: rest_framework.views reads the API settings at import time,
    # which import this project's permission classes.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        body = error_body(exc.status, exc.code, exc.message, exc.fields, **exc.extra)
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = _flatten(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
        return Response(
            error_body(400, "invalid", _message(fields, "Invalid input."), fields),
            status=400,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = _message(fields, "Invalid input.")
        code = "invalid"
    else:
        fields = {}
        detail = getattr(exc, "detail", str(exc))
        message = str(detail)
        code = str(
            getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        )
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        code = "not_authenticated"
    response.data = error_body(response.status_code, str(code), message, fields)
    return response
