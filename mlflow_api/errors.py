"""MLflow's error shape: ``{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": ...}``.

The HTTP status of each code is MLflow's own (``mlflow.exceptions``), except that
nothing a client sent is ever answered with a 5xx: MLflow's client retries those
for minutes.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from rest_framework import exceptions

from common.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
BAD_REQUEST = "BAD_REQUEST"

HTTP_STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    BAD_REQUEST: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    RESOURCE_CONFLICT: 409,
    REQUEST_LIMIT_EXCEEDED: 429,
}


class MlflowError(Exception):
    """An answer in MLflow's error shape, raised by the face's own parsing."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def response(code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    answer = JsonResponse(
        {"error_code": code, "message": message}, status=HTTP_STATUS.get(code, 400)
    )
    for name, value in (headers or {}).items():
        answer[name] = value
    return answer


def _domain_code(exc: DomainError, *, creating: bool) -> str:
    if isinstance(exc, NotFound):
        return RESOURCE_DOES_NOT_EXIST
    if isinstance(exc, Forbidden):
        return PERMISSION_DENIED
    if isinstance(exc, Conflict):
        taken = "already exists" in exc.message
        return RESOURCE_ALREADY_EXISTS if taken or creating else RESOURCE_CONFLICT
    if isinstance(exc, Invalid):
        return INVALID_PARAMETER_VALUE
    return INVALID_PARAMETER_VALUE if exc.status < 500 else BAD_REQUEST


def from_exception(exc: Exception, *, creating: bool = False) -> Any:
    """The MLflow answer for an error raised while handling a request, or None."""
    if isinstance(exc, MlflowError):
        return response(exc.code, exc.message)
    if isinstance(exc, DomainError):
        return response(_domain_code(exc, creating=creating), exc.message)
    if isinstance(exc, ValidationError):
        return response(INVALID_PARAMETER_VALUE, "; ".join(_messages(exc)))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return response(
            UNAUTHENTICATED,
            str(exc.detail),
            {"WWW-Authenticate": 'Basic realm="mlflow"'},
        )
    if isinstance(exc, exceptions.PermissionDenied):
        return response(PERMISSION_DENIED, str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        headers = {"Retry-After": str(int(getattr(exc, "wait", None) or 1))}
        return response(REQUEST_LIMIT_EXCEEDED, str(exc.detail), headers)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return response(ENDPOINT_NOT_FOUND, str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        return response(INVALID_PARAMETER_VALUE, str(exc.detail))
    return None


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
    return list(exc.messages)
