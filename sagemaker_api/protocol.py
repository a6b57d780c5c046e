"""AWS JSON 1.1 as SageMaker speaks it: errors, input checks, times and pages.

Shapes come from botocore's own service model (``botocore/data/sagemaker``), the
one the clients use, so a field name or an enum is never written from memory.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

from common import jsonsafe
from common.errors import Conflict, DomainError, Forbidden, NotFound, TooLarge

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


class AwsError(Exception):
    """An error answered in the protocol's shape: ``{"__type", "message"}``."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message)


def from_domain(error: DomainError) -> AwsError:
    """A registry rule's refusal as the AWS error a client expects (always 4xx)."""
    code = {
        NotFound: "ResourceNotFound",
        Conflict: "ConflictException",
        Forbidden: "AccessDeniedException",
        TooLarge: "ValidationException",
    }.get(type(error), "ValidationException")
    return AwsError(code, error.message)


@functools.cache
def service_model(name: str = "sagemaker") -> ServiceModel:
    """botocore's model of ``sagemaker`` or ``sagemaker-runtime`` (loaded once)."""
    return botocore.session.get_session().get_service_model(name)


def operation(name: str) -> OperationModel | None:
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


def check_input(op: OperationModel, params: Any) -> dict[str, Any]:
    """``params`` checked against the operation's input shape by botocore's own
    validator (types, required members, lower bounds), then enums and upper bounds."""
    if not isinstance(params, dict):
        raise validation("The request body must be a JSON object.")
    shape = op.input_shape
    if shape is None:
        return {}
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise validation(report.generate_report().replace("\n", " "))
    _check_limits(params, shape)
    return params


def _check_limits(value: Any, shape: Any, path: str = "") -> None:
    """What botocore's validator leaves to the service: enums and upper bounds
    (string and list lengths, number ranges), each refusal naming the member."""
    kind, limit = shape.type_name, shape.metadata.get("max")
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check_limits(value[name], member, f"{path}.{name}" if path else name)
    elif kind == "list" and isinstance(value, list):
        if limit is not None and len(value) > limit:
            raise validation(f"'{path}' holds at most {limit} items.")
        for index, item in enumerate(value):
            _check_limits(item, shape.member, f"{path}[{index}]")
    elif kind == "map" and isinstance(value, dict):
        if limit is not None and len(value) > limit:
            raise validation(f"'{path}' holds at most {limit} entries.")
        for key, item in value.items():
            _check_limits(key, shape.key, f"{path} key")
            _check_limits(item, shape.value, f"{path}.{key}")
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            allowed = ", ".join(shape.enum)
            raise validation(f"Value {value!r} at '{path}' must be one of: {allowed}.")
        if limit is not None and len(value) > limit:
            raise validation(f"'{path}' is at most {limit} characters long.")
    elif (
        kind in ("integer", "long", "float", "double")
        and limit is not None
        and isinstance(value, int | float)
        and value > limit
    ):
        raise validation(f"'{path}' is at most {limit}.")


def read_json(body: bytes) -> Any:
    """The request's JSON (depth-limited like every client JSON), ``{}`` if empty."""
    if not body:
        return {}
    try:
        return jsonsafe.loads(body)
    except (jsonsafe.JSONInputError, UnicodeDecodeError) as exc:
        raise AwsError(
            "SerializationException", f"The body is not JSON: {exc}"
        ) from exc


def epoch(moment: datetime | None) -> float | None:
    """A time as AWS JSON sends it: seconds since the epoch."""
    return None if moment is None else moment.timestamp()


def moment(value: Any, field: str) -> datetime | None:
    """A time a client sent (epoch seconds, or ISO 8601 text) as an aware datetime."""
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise validation(f"{field} must be a time (epoch seconds or ISO 8601).")


def page_bounds(params: dict[str, Any], *, default: int = 100) -> tuple[int, int]:
    """(offset, size) from ``NextToken`` and ``MaxResults`` (1-100)."""
    size = params.get("MaxResults", default)
    if not 1 <= size <= 100:
        raise validation("MaxResults must be between 1 and 100.")
    token = params.get("NextToken")
    if not token:
        return 0, size
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise validation("NextToken is not a token this service gave.") from exc
    if offset < 0:
        raise validation("NextToken is not a token this service gave.")
    return offset, size


def page(rows: Any, offset: int, size: int) -> tuple[list[Any], str | None]:
    """One page of a queryset or list (one query: a row past the page tells whether
    another follows) and the token of the next page, if any."""
    window = list(rows[offset : offset + size + 1])
    if len(window) <= size:
        return window, None
    token = base64.urlsafe_b64encode(json.dumps({"o": offset + size}).encode())
    return window[:size], token.decode()


def descending(params: dict[str, Any], *, default: str = "Ascending") -> bool:
    return params.get("SortOrder", default) == "Descending"


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}
