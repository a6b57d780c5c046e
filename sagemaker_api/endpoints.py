"""Endpoints as SageMaker reports them, and sagemaker-runtime's InvokeEndpoint.

``EndpointStatus`` comes from the deployment state: a deployment queued or running
is ``Updating`` (``Creating`` before anything served), a live version is
``InService``, an endpoint whose last deployment failed with nothing live is
``Failed``, and one that serves nothing is ``OutOfService``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.conf import settings

from accounts.roles import Actor, can_read, may_invoke
from common import jsonsafe
from common import sagemaker as arns
from common.errors import Forbidden
from deployments import selectors, serving
from modelformats import InputError
from sagemaker_api.protocol import (
    AwsError,
    descending,
    epoch,
    moment,
    page,
    page_bounds,
    validation,
)

VARIANT = "AllTraffic"  # the one production variant of a registry endpoint


def status_of(endpoint: Any) -> str:
    """SageMaker's EndpointStatus for a row of ``deployments.selectors.endpoint_list``."""
    if endpoint.deploying:
        return "Updating" if endpoint.live_version_id else "Creating"
    if endpoint.live_version_id:
        return "InService"
    if endpoint.last_status == "Failed":
        return "Failed"
    return "OutOfService"


def _summary(endpoint: Any) -> dict[str, Any]:
    return {
        "EndpointName": endpoint.name,
        "EndpointArn": arns.endpoint_arn(endpoint.name),
        "CreationTime": epoch(endpoint.created_at),
        "LastModifiedTime": epoch(endpoint.updated_at),
        "EndpointStatus": status_of(endpoint),
    }


def _read(actor: Actor) -> None:
    if not can_read(actor):
        raise Forbidden("You need a registry role (and a key with the read scope).")


def describe_endpoint(actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    _read(actor)
    name = params["EndpointName"]
    endpoint = selectors.endpoint_list().filter(name=name).first()
    if endpoint is None:  # SageMaker's answer (its waiters expect it)
        raise validation(f"Could not find endpoint {name!r}.")
    answer = {**_summary(endpoint), "EndpointConfigName": endpoint.name}
    if endpoint.live_version_id:
        answer["ProductionVariants"] = [
            {
                "VariantName": VARIANT,
                "CurrentWeight": 1.0,
                "DesiredWeight": 1.0,
                "CurrentInstanceCount": 1,
                "DesiredInstanceCount": 1,
            }
        ]
    if (
        answer["EndpointStatus"] in ("Failed", "OutOfService")
        and endpoint.serving_message
    ):
        answer["FailureReason"] = endpoint.serving_message[:1024]
    return answer


ENDPOINT_SORTS = {"Name": "name", "CreationTime": "created_at", "Status": "name"}
# EndpointStatus is computed: endpoints are few, so a status sort happens here.
STATUS_ORDER = ("Creating", "Updating", "InService", "OutOfService", "Failed")


def list_endpoints(actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    _read(actor)
    offset, size = page_bounds(params)
    rows: Any = selectors.endpoint_list()
    if params.get("NameContains"):
        rows = rows.filter(name__icontains=params["NameContains"])
    for param, lookup in (
        ("CreationTimeAfter", "created_at__gt"),
        ("CreationTimeBefore", "created_at__lt"),
        ("LastModifiedTimeAfter", "updated_at__gt"),
        ("LastModifiedTimeBefore", "updated_at__lt"),
    ):
        if param in params:
            rows = rows.filter(**{lookup: moment(params[param], param)})
    key = ENDPOINT_SORTS[params.get("SortBy", "CreationTime")]
    rows = rows.order_by(
        f"-{key}" if descending(params, default="Descending") else key, "id"
    )
    if "StatusEquals" in params:  # a computed status: endpoints are few
        rows = [e for e in rows if status_of(e) == params["StatusEquals"]]
    if params.get("SortBy") == "Status":
        rows = sorted(
            rows,
            key=lambda e: STATUS_ORDER.index(status_of(e)),
            reverse=descending(params, default="Descending"),
        )
    found, token = page(rows, offset, size)
    answer: dict[str, Any] = {"Endpoints": [_summary(e) for e in found]}
    if token:
        answer["NextToken"] = token
    return answer


# --- sagemaker-runtime ------------------------------------------------------------------


def _inputs(body: bytes, content_type: str) -> Any:
    """The rows to predict: JSON (``{"inputs": ...}``, ``{"instances": ...}`` or a bare
    list, as SageMaker's own containers take) or CSV of numbers."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        try:
            text = body.decode()
            return [
                [float(cell) for cell in row]
                for row in csv.reader(io.StringIO(text))
                if row
            ]
        except (UnicodeDecodeError, ValueError) as exc:
            raise validation("text/csv bodies must be rows of numbers.") from exc
    if kind not in ("application/json", ""):
        raise validation(
            f"ContentType {kind!r} is not supported: send application/json or text/csv."
        )
    try:
        document = jsonsafe.loads(body)
    except (jsonsafe.JSONInputError, UnicodeDecodeError) as exc:
        raise validation(f"The body is not JSON: {exc}") from exc
    if isinstance(document, dict) and ("inputs" in document or "instances" in document):
        return document.get("inputs", document.get("instances"))
    if isinstance(document, list):
        return document
    raise validation(
        'Send {"inputs": [[...], ...]}, {"instances": ...} or a list of rows.'
    )


def invoke(
    user: Any, name: str, body: bytes, content_type: str, accept: str
) -> tuple[bytes, str, int]:
    """The endpoint's answer (``serving.answer``: in this process, or forwarded to
    its Ray cluster), its content type and the version that answered. JSON as
    ``/api/v1``'s invocations answer it, or with ``Accept: text/csv`` the predictions
    one row per line, as SageMaker's containers write CSV."""
    if not may_invoke(user):
        raise Forbidden("You need the invoke permission to call endpoints.")
    if len(body) > settings.REGISTRY_MAX_INVOCATION_SIZE:
        raise validation(
            f"The request body is larger than {settings.REGISTRY_MAX_INVOCATION_SIZE} bytes."
        )
    answer_type = _answer_type(accept)
    inputs = _inputs(body, content_type)
    try:
        version, answer = serving.answer(name, inputs)
    except serving.UnknownEndpoint as exc:
        raise validation(
            f"Endpoint {name} of account {settings.REGISTRY_SAGEMAKER_ACCOUNT} not found."
        ) from exc
    except serving.NotServing as exc:
        raise AwsError("ModelNotReadyException", str(exc)) from exc
    except serving.TimedOut as exc:
        raise AwsError("ServiceUnavailable", str(exc), status=503) from exc
    except InputError as exc:
        raise AwsError("ModelError", str(exc)) from exc
    if answer_type == "text/csv":
        return _csv(answer["predictions"]), answer_type, version
    return json.dumps(answer).encode(), answer_type, version


def _answer_type(accept: str) -> str:
    """The content type to answer with: JSON unless ``Accept`` asks for CSV only."""
    wanted = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    wanted = [kind for kind in wanted if kind]
    if not wanted or {"application/json", "*/*", "application/*"} & set(wanted):
        return "application/json"
    if "text/csv" in wanted or "text/*" in wanted:
        return "text/csv"
    raise validation(
        f"Accept {accept!r} is not supported: ask for application/json or text/csv."
    )


def _csv(predictions: Any) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in predictions if isinstance(predictions, list) else [predictions]:
        writer.writerow(row if isinstance(row, list) else [row])
    return out.getvalue().encode()
