"""Failed SigV4 signatures count against the address like failed tokens: past the
limit the address is refused with AWS's ThrottlingException before its signature is
checked, while a key that signed correctly a moment ago is not slowed by the count."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts.services import access_key_issue
from sagemaker_api import sigv4
from tests.accounts.test_rate_limits import OFF
from tests.sagemaker_api.conftest import amz_date, sigv4_authorization

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_keys() -> Any:
    sigv4.forget()
    yield
    sigv4.forget()


def post(key_id: str, secret: str, address: str) -> Any:
    stamp = amz_date()
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.ListModelPackageGroups",
        "X-Amz-Date": stamp,
        "Host": "testserver",
    }
    authorization = sigv4_authorization(
        key_id, secret, "POST", "http://testserver/sagemaker/", headers, b"{}"
    )
    return Client(REMOTE_ADDR=address).post(
        "/sagemaker/",
        data=b"{}",
        content_type="application/x-amz-json-1.1",
        HTTP_X_AMZ_TARGET=headers["X-Amz-Target"],
        HTTP_X_AMZ_DATE=stamp,
        HTTP_AUTHORIZATION=authorization,
        HTTP_HOST="testserver",
    )


def kind(response: Any) -> str:
    return str(json.loads(response.content)["__type"])


def test_failed_signatures_are_limited_per_address(
    settings: Any, contributor: Any
) -> None:
    settings.REGISTRY_RATE_LIMITS = {**OFF, "failed_token": "3/m"}
    key, secret = access_key_issue(actor=contributor)
    kid = key.access_key_id
    first = post(kid, secret, "10.0.0.9")
    assert first.status_code == 200, first.content  # remembered now

    failures = [post(kid, "x" * 40, "10.0.0.1") for _ in range(3)]
    blocked = post(kid, "x" * 40, "10.0.0.1")
    remembered = post(kid, secret, "10.0.0.1")
    sigv4.forget()
    unremembered = post(kid, secret, "10.0.0.1")
    elsewhere = post(kid, secret, "10.0.0.2")

    assert [kind(f) for f in failures] == ["InvalidSignatureException"] * 3
    assert kind(blocked) == "ThrottlingException"
    assert remembered.status_code == 200
    assert kind(unremembered) == "ThrottlingException"
    assert elsewhere.status_code == 200
