"""sagemaker-runtime's InvokeEndpoint follows the invocation rules of every face: the
per-credential rate limit (429 with Retry-After, counted per access key), and the
answer in the type ``Accept`` asks for. In process, signed by botocore's signer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from accounts.services import access_key_issue
from tests.helpers import SAMPLE
from tests.sagemaker_api.conftest import amz_date, sigv4_authorization

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/sagemaker/endpoints/iris-prod/invocations"


def invoke(key: tuple[Any, str], body: bytes, **headers: str) -> Any:
    sent = {
        "Content-Type": headers.pop("content_type", "application/json"),
        "X-Amz-Date": amz_date(),
        "Host": "testserver",
        **headers,
    }
    authorization = sigv4_authorization(
        key[0].access_key_id, key[1], "POST", f"http://testserver{PATH}", sent, body
    )
    extra = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in sent.items()
        if name not in ("Content-Type", "Host")
    }
    return Client().post(
        PATH,
        data=body,
        content_type=sent["Content-Type"],
        HTTP_AUTHORIZATION=authorization,
        HTTP_HOST="testserver",
        **extra,
    )


@pytest.fixture
def keys(make_user: Any) -> list[tuple[Any, str]]:
    caller = make_user("viewer")
    return [
        access_key_issue(actor=caller, name=name, scopes=["read", "invoke"])
        for name in ("first", "second")
    ]


def test_the_invocation_rate_limit_holds_per_access_key(live, keys, settings):
    settings.REGISTRY_RATE_LIMITS = {
        **settings.REGISTRY_RATE_LIMITS,
        "invocation": "3/m",
    }
    caches["default"].clear()
    body = json.dumps({"inputs": SAMPLE}).encode()

    answers = [invoke(keys[0], body) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert json.loads(refused.content)["__type"] == "ThrottlingException"
    assert "REGISTRY_RATE_INVOCATION" in json.loads(refused.content)["message"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another key of the same user has its own count.
    assert invoke(keys[1], body).status_code == 200


def test_the_answer_comes_in_the_type_accept_asks_for(live, keys):
    body = json.dumps({"inputs": SAMPLE}).encode()

    as_json = invoke(keys[0], body, Accept="application/json")
    as_csv = invoke(keys[0], body, Accept="text/csv")
    anything = invoke(keys[0], body, Accept="*/*")
    refused = invoke(keys[0], body, Accept="image/png")

    assert as_json["Content-Type"] == "application/json"
    predictions = json.loads(as_json.content)["predictions"]
    assert as_csv.status_code == 200 and as_csv["Content-Type"] == "text/csv"
    assert as_csv.content.decode() == "".join(f"{p}\n" for p in predictions)
    assert json.loads(anything.content)["predictions"] == predictions
    assert refused.status_code == 400
    assert json.loads(refused.content)["__type"] == "ValidationException"
    assert "Accept 'image/png'" in json.loads(refused.content)["message"]
