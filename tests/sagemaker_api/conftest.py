"""boto3 from PyPI against the server `make run` starts (gunicorn), signed with access
keys issued through ``/api/v1/access-keys/`` as a user would."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from accounts.services import token_issue
from catalog.selectors import group_get
from deployments import services as deploy
from deployments.models import Endpoint

ALL_SCOPES = ["read", "write", "review", "deploy", "invoke"]
REGION = "us-east-1"


def issue_key(url: str, user: Any, scopes: list[str] | None = None) -> dict[str, Any]:
    """An access key pair for ``user``, made with ``POST /api/v1/access-keys/``."""
    _, token = token_issue(user=user, scopes=[*ALL_SCOPES, "tokens"])
    response = requests.post(
        f"{url}/api/v1/access-keys/",
        json={"name": "pipeline", "scopes": scopes or ALL_SCOPES},
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def client(
    url: str, key: dict[str, Any], service: str = "sagemaker", **config: Any
) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"{url}/sagemaker",
        region_name=REGION,
        aws_access_key_id=key["access_key_id"],
        aws_secret_access_key=key["secret_access_key"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.fixture
def sagemaker(web_server: Any, transactional_db: Any) -> Callable[..., Any]:
    """``sagemaker(user, scopes=None, service="sagemaker", **config)``: a boto3 client
    signed with a new access key of ``user``."""

    def make(user: Any, scopes: list[str] | None = None, **kwargs: Any) -> Any:
        return client(web_server.url, issue_key(web_server.url, user, scopes), **kwargs)

    return make


def sigv4_authorization(
    key_id: str,
    secret: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
) -> str:
    """The ``Authorization`` header botocore's own signer makes for this request;
    ``headers`` must hold ``X-Amz-Date`` (the signing time) and ``Host``."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(key_id, secret), "sagemaker", REGION)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    return (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
        f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
        f"Signature={signature}"
    )


def amz_date(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def signed_post(
    url: str,
    key: dict[str, Any],
    body: bytes,
    *,
    target: str = "SageMaker.ListModelPackageGroups",
    when: datetime | None = None,
    secret: str | None = None,
) -> requests.Response:
    """A JSON 1.1 request signed by botocore's signer at ``when`` (now by default)."""
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": target,
        "X-Amz-Date": amz_date(when),
        "Host": url.split("://", 1)[1],
    }
    headers["Authorization"] = sigv4_authorization(
        key["access_key_id"],
        secret or key["secret_access_key"],
        "POST",
        f"{url}/sagemaker/",
        headers,
        body,
    )
    return requests.post(f"{url}/sagemaker/", data=body, headers=headers, timeout=10)


def body_of(params: dict[str, Any]) -> bytes:
    return json.dumps(params).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _forget_remembered_keys() -> Any:
    from sagemaker_api import sigv4

    sigv4.forget()
    yield


def wait_live(name: str, timeout: float = 90) -> Endpoint:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = Endpoint.objects.get(name=name)
        if endpoint.live_version_id:
            return endpoint
        time.sleep(0.2)
    raise AssertionError(f"{name} never went live")


@pytest.fixture
def live(
    worker: Any,
    register: Any,
    client_for: Any,
    reviewer: Any,
    deployer: Any,
) -> Endpoint:
    """Endpoint ``iris-prod`` serving version 1 of ``iris`` (a real ONNX model,
    registered and approved through /api/v1/, deployed by the real worker)."""
    deploy.endpoint_create(actor=deployer, name="iris-prod", group=group_get("iris"))
    assert register().status_code == 201
    review = client_for(reviewer).post(
        "/api/v1/model-groups/iris/versions/1/reviews/",
        {"decision": "approve"},
        format="json",
    )
    assert review.status_code == 201, review.content
    return wait_live("iris-prod")
