"""SigV4 on every call, checked with botocore's signer against access keys: a wrong
signature, an old date, an unknown or revoked key are refused with AWS's 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.sagemaker_api.conftest import body_of, client, issue_key, signed_post
from tests.sagemaker_api.test_flow import code, refused

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key(web_server, transactional_db, make_user):
    return issue_key(web_server.url, make_user("contributor"))


def test_a_correctly_signed_request_is_answered(web_server, key):
    response = signed_post(web_server.url, key, body_of({}))

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "ModelPackageGroupSummaryList" in response.json()


def test_a_wrong_secret_is_refused(web_server, key):
    error = refused(
        client(
            web_server.url, {**key, "secret_access_key": "x" * 40}
        ).list_model_package_groups
    )

    assert code(error) == "InvalidSignatureException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_body_changed_after_signing_is_refused(web_server, key):
    signed = signed_post(web_server.url, key, body_of({}))
    request = signed.request
    tampered = requests.post(
        request.url,
        data=body_of({"NameContains": "x"}),
        headers={k: v for k, v in request.headers.items() if k != "Content-Length"},
        timeout=10,
    )

    assert tampered.status_code == 403
    assert tampered.json()["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("minutes", [-16, 16])
def test_a_date_more_than_15_minutes_off_is_refused(web_server, key, minutes):
    when = datetime.now(UTC) + timedelta(minutes=minutes)

    response = signed_post(web_server.url, key, body_of({}), when=when)

    assert response.status_code == 403
    assert response.json()["__type"] == "InvalidSignatureException"
    assert "expired" in response.json()["message"]


def test_a_date_within_15_minutes_is_accepted(web_server, key):
    when = datetime.now(UTC) - timedelta(minutes=14)

    assert signed_post(web_server.url, key, body_of({}), when=when).status_code == 200


def test_an_unknown_key_is_refused(web_server, key):
    unknown = {**key, "access_key_id": "MRAKAAAAAAAAAAAAAAAA"}

    assert code(refused(client(web_server.url, unknown).list_model_package_groups)) == (
        "UnrecognizedClientException"
    )


def test_a_revoked_key_is_refused(web_server, key, client_for, make_user):
    sm = client(web_server.url, key)
    sm.list_model_package_groups()
    from accounts.models import AccessKey
    from accounts.services import access_key_revoke

    access_key_revoke(key=AccessKey.objects.get(pk=key["id"]))

    assert code(refused(sm.list_model_package_groups)) == "UnrecognizedClientException"


def test_unsigned_requests_are_refused(web_server):
    response = requests.post(
        f"{web_server.url}/sagemaker/",
        data=b"{}",
        headers={"X-Amz-Target": "SageMaker.ListModelPackageGroups"},
        timeout=10,
    )

    assert response.status_code == 403
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


def test_a_token_is_not_a_signature(web_server, make_user):
    from accounts.services import token_issue

    _, token = token_issue(user=make_user("contributor"))
    response = requests.post(
        f"{web_server.url}/sagemaker/",
        data=b"{}",
        headers={
            "X-Amz-Target": "SageMaker.ListModelPackageGroups",
            "Authorization": f"Token {token}",
        },
        timeout=10,
    )

    assert response.status_code == 403
