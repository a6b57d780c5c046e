"""``POST /sagemaker/`` (AWS JSON 1.1, ``X-Amz-Target: SageMaker.<Operation>``) and
sagemaker-runtime's ``POST /sagemaker/endpoints/<name>/invocations``.

Every request is authenticated by its SigV4 signature first. Errors take the
protocol's shape: 403 for authentication, 400 for everything a client got wrong or
a rule refused (botocore retries 5xx, so a refusal must never be one).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.throttling import Caller, InvocationThrottle
from common.errors import DomainError
from sagemaker_api import endpoints, protocol, sigv4
from sagemaker_api.operations import OPERATIONS
from sagemaker_api.protocol import JSON_CONTENT_TYPE, AwsError

log = logging.getLogger(__name__)
TARGET_PREFIX = "SageMaker."


def _answer(body: Any, *, status: int = 200, code: str = "") -> HttpResponse:
    response = HttpResponse(
        json.dumps(body), status=status, content_type=JSON_CONTENT_TYPE
    )
    response["x-amzn-RequestId"] = str(uuid.uuid4())
    if code:
        response["x-amzn-ErrorType"] = code
    return response


def _error(error: AwsError) -> HttpResponse:
    response = _answer(error.body(), status=error.status, code=error.code)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _invalid(error: ValidationError) -> AwsError:
    if hasattr(error, "error_dict"):
        return protocol.validation(
            " ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        )
    return protocol.validation(" ".join(error.messages))


def _body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig as exc:
        raise protocol.validation("The request body is too large.") from exc


@csrf_exempt
def dispatch(request: HttpRequest) -> HttpResponse:
    """Authenticate, find the operation named by X-Amz-Target, check its input
    against botocore's shape, run it."""
    try:
        _body(request)
        user = sigv4.authenticate(request)
        if request.method != "POST":
            raise protocol.validation("SageMaker's API takes POST requests only.")
        return _answer(_run(request, user))
    except AwsError as error:
        return _error(error)
    except DomainError as error:
        return _error(protocol.from_domain(error))
    except ValidationError as error:
        return _error(_invalid(error))


def _run(request: HttpRequest, user: Any) -> Any:
    target = request.headers.get("X-Amz-Target", "")
    name = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or not name:
        raise AwsError(
            "UnknownOperationException",
            "Name the operation in X-Amz-Target: SageMaker.<Operation>.",
        )
    model = protocol.operation(name)
    if model is None:
        raise AwsError("UnknownOperationException", f"No SageMaker operation {name!r}.")
    handler = OPERATIONS.get(name)
    if handler is None:
        supported = ", ".join(sorted(OPERATIONS))
        raise AwsError(
            "UnsupportedOperation",
            f"{name} is a SageMaker operation this registry does not support. "
            f"Supported: {supported}.",
        )
    params = protocol.check_input(model, protocol.read_json(request.body))
    return handler(user, params)


def _throttle(request: HttpRequest, user: Any) -> None:
    """The invocation rate limit (``REGISTRY_RATE_INVOCATION``), per access key."""
    if settings.REGISTRY_RATE_LIMITS.get("invocation") is None:
        return
    throttle = InvocationThrottle()
    if not throttle.allow_request(Caller(request.META, user), None):
        wait = int(throttle.wait())
        raise AwsError(
            "ThrottlingException",
            f"Too many invocations with this access key; try again in {wait} s "
            "(REGISTRY_RATE_INVOCATION).",
            status=429,
            headers={"Retry-After": str(wait)},
        )


@csrf_exempt
def invocations(request: HttpRequest, name: str) -> HttpResponse:
    """sagemaker-runtime InvokeEndpoint: the raw body in, the model's answer out."""
    try:
        body = _body(request)
        user = sigv4.authenticate(request)
        if request.method != "POST":
            raise protocol.validation("InvokeEndpoint takes POST requests only.")
        _throttle(request, user)
        content, content_type, version = endpoints.invoke(
            user,
            name,
            body,
            request.headers.get("Content-Type", ""),
            request.headers.get("Accept", ""),
        )
    except AwsError as error:
        return _error(error)
    except DomainError as error:
        return _error(protocol.from_domain(error))
    except ValidationError as error:
        return _error(_invalid(error))
    response = HttpResponse(content, content_type=content_type)
    response["X-Amzn-Invoked-Production-Variant"] = endpoints.VARIANT
    response["X-Model-Version"] = str(version)
    response["x-amzn-RequestId"] = str(uuid.uuid4())
    return response
