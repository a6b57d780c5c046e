"""Rate limits: sign-in failures, failed token authentications (issue 10, hardening).

Invocations per token are tested with a live endpoint in tests/deployments.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.services import token_issue
from common import env
from tests.helpers import reachable

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
OFF = {
    "sign_in_account": None,
    "sign_in_address": None,
    "failed_token": None,
    "invocation": None,
}


@pytest.fixture
def limits(settings):
    """Set some limits low (the rest off) for one test."""

    def set_(**rates: str) -> None:
        settings.REGISTRY_RATE_LIMITS = {**OFF, **rates}

    return set_


def sign_in(client, username, password="nope", address="10.0.0.1", **headers):  # noqa: S107
    return client.post(
        LOGIN,
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def test_an_account_is_locked_after_too_many_failures(client, limits, viewer):
    limits(sign_in_account="3/h")
    failures = [
        sign_in(client, viewer.username, address=f"10.0.0.{n}") for n in range(3)
    ]

    refused = sign_in(client, viewer.username, password="pw", address="10.9.9.9")

    assert [r.status_code for r in failures] == [200, 200, 200]
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert b"Too many failed sign-ins" in refused.content
    assert "_auth_user_id" not in client.session


def test_usernames_are_counted_whatever_their_case(client, limits, viewer):
    limits(sign_in_account="2/h")
    sign_in(client, viewer.username.upper())
    sign_in(client, f" {viewer.username} ")

    assert sign_in(client, viewer.username).status_code == 429


def test_an_address_is_limited_across_accounts(client, limits, viewer, make_user):
    limits(sign_in_address="3/h")
    for n in range(3):
        sign_in(client, f"guess{n}")

    assert sign_in(client, viewer.username, password="pw").status_code == 429
    other = sign_in(client, viewer.username, password="pw", address="10.0.0.2")
    assert other.status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_limit(
    client, limits, viewer
):
    limits(sign_in_address="2/h")
    for n in range(2):
        sign_in(client, "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    refused = sign_in(client, "guess", HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert refused.status_code == 429


def test_behind_a_proxy_the_forwarded_address_is_counted(client, limits, settings):
    limits(sign_in_address="2/h")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for _ in range(2):
        sign_in(client, "guess", HTTP_X_FORWARDED_FOR="192.0.2.1")

    assert sign_in(client, "guess", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429
    assert sign_in(client, "guess", HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 200


def test_successful_sign_ins_are_not_counted(client, limits, viewer):
    limits(sign_in_account="2/h", sign_in_address="2/h")

    statuses = [sign_in(client, viewer.username, "pw").status_code for _ in range(4)]

    assert statuses == [302] * 4


def test_the_admin_sign_in_is_limited_too(client, limits, make_user):
    staff = make_user("admin", is_staff=True)
    limits(sign_in_account="2/h")
    for _ in range(2):
        client.post(
            "/admin/login/",
            {"username": staff.username, "password": "nope"},
            REMOTE_ADDR="10.0.0.1",
        )

    client.post(
        "/admin/login/",
        {"username": staff.username, "password": "pw"},
        REMOTE_ADDR="10.0.0.1",
    )

    assert "_auth_user_id" not in client.session
    assert sign_in(client, staff.username, "pw").status_code == 429


def bad_token(address="10.0.0.1"):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION="Token mr_guessed")
    return client.get("/api/v1/model-groups/")


def test_failed_token_authentications_are_limited_per_address(limits, viewer):
    limits(failed_token="3/m")
    _, key = token_issue(user=viewer)
    statuses = [bad_token().status_code for _ in range(3)]

    refused = bad_token()
    good_elsewhere = APIClient(REMOTE_ADDR="10.0.0.2")
    good_elsewhere.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert statuses == [401, 401, 401]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert good_elsewhere.get("/api/v1/model-groups/").status_code == 200


def test_limits_hold_on_a_shared_redis_cache(limits, settings):
    import uuid

    from tests.helpers import require_service

    require_service(
        reachable(settings.TEST_REDIS_URL), f"Redis at {settings.TEST_REDIS_URL}"
    )
    # A prefix of its own, and no clear(): that would flush the Redis database that
    # other test runs use as their broker. The keys expire with their window.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.TEST_REDIS_URL,
            "KEY_PREFIX": f"test-rate-{uuid.uuid4().hex}",
        }
    }
    limits(failed_token="2/m")

    statuses = [bad_token().status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_a_limit_that_cannot_be_read_fails_loudly(monkeypatch):
    from registry_site import settings as site_settings

    monkeypatch.setenv("REGISTRY_RATE_X", "ten a minute")
    with pytest.raises(env.ConfigError, match="REGISTRY_RATE_X"):
        site_settings._rate("REGISTRY_RATE_X", "off")
    monkeypatch.setenv("REGISTRY_RATE_X", "off")
    assert site_settings._rate("REGISTRY_RATE_X", "5/m") is None
    monkeypatch.setenv("REGISTRY_RATE_X", "5/h")
    assert site_settings._rate("REGISTRY_RATE_X", "off") == "5/h"
