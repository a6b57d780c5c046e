"""AWS Signature Version 4, checked with botocore's own signer.

The signature is computed again from the request as it arrived (method, path,
query, the headers the client says it signed, the body's SHA-256) with the stored
secret of the access key named in ``Authorization``, and compared in constant time.
A request older or newer than ``REGISTRY_SAGEMAKER_CLOCK_SKEW`` seconds is refused,
so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings
from django.http import HttpRequest

from accounts import throttling
from accounts.services import (
    AccessKeyMatch,
    access_key_authenticate,
    access_key_still_active,
)
from sagemaker_api.protocol import AwsError

SERVICE = "sagemaker"
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[A-Za-z0-9]{1,128})/(?P<date>[0-9]{8})/"
    r"(?P<region>[a-z0-9\-]{1,32})/(?P<service>[a-z0-9\-]{1,32})/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9\-;]{1,2048}),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\Z"
)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def _refused(code: str, message: str) -> AwsError:
    return AwsError(code, message, status=403)


def authenticate(request: HttpRequest) -> Any:
    """The user whose access key signed ``request`` (roles narrowed to the key's
    scopes), or an AwsError (403) saying why not."""
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    if not header:
        raise _refused(
            "MissingAuthenticationTokenException",
            "Sign requests with AWS Signature Version 4 and a registry access key.",
        )
    parts = _AUTH_RE.match(header)
    if parts is None:
        raise _refused(
            "IncompleteSignatureException",
            "The Authorization header is not an AWS4-HMAC-SHA256 signature.",
        )
    if parts["service"] != SERVICE:
        raise _refused(
            "InvalidSignatureException",
            f"Credential should be scoped to the service {SERVICE!r}.",
        )
    stamp = _checked_time(request, parts["date"])
    signed = parts["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise _refused(
            "IncompleteSignatureException",
            "SignedHeaders must include host and x-amz-date.",
        )
    # Failed signatures count against the address like failed tokens, so secrets
    # cannot be guessed at speed. As for tokens, a key that signed correctly a moment
    # ago is checked without asking the throttle (a cache round trip); any failure
    # is counted, and a blocked address is refused before its answer.
    found = _remembered(parts["key"])
    if found is None:
        _not_blocked(request)
        found = access_key_authenticate(parts["key"])
    if found is None:
        throttling.token_failed(request)
        raise _refused(
            "UnrecognizedClientException",
            "The access key is unknown, revoked, or its user is inactive.",
        )
    expected = _signature(request, parts, signed, stamp, found.secret)
    if not hmac.compare_digest(expected, parts["signature"]):
        _not_blocked(request)
        throttling.token_failed(request)
        raise _refused(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you "
            "provided. Check your secret access key and signing method.",
        )
    _remember(parts["key"], found)
    request.META[throttling.ACCESS_KEY] = parts["key"]
    return found.user


def _not_blocked(request: HttpRequest) -> None:
    if throttling.token_failures_wait(request) is not None:
        raise AwsError(
            "ThrottlingException",
            "Too many failed authentications from this address; try again later.",
        )


# Like tokens (accounts.authentication), a web process remembers a key that signed
# correctly for REGISTRY_AUTH_CACHE seconds, and then checks only that it is still
# active (revocation takes effect at once) instead of loading and decrypting it again.
_cache: dict[str, tuple[AccessKeyMatch, float]] = {}
_lock = threading.Lock()


def _remembered(key_id: str) -> AccessKeyMatch | None:
    hit = _cache.get(key_id)
    if hit is None or hit[1] < time.monotonic():
        return None
    if not access_key_still_active(hit[0].key_id):
        _cache.pop(key_id, None)
        return None
    return hit[0]


def _remember(key_id: str, found: AccessKeyMatch) -> None:
    ttl = settings.REGISTRY_AUTH_CACHE
    if ttl <= 0:
        return
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key_id] = (found, time.monotonic() + ttl)


def forget() -> None:
    """Drop every remembered key (tests)."""
    with _lock:
        _cache.clear()


def _checked_time(request: HttpRequest, date: str) -> str:
    stamp = request.META.get("HTTP_X_AMZ_DATE", "")
    try:
        when = datetime.strptime(stamp, _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise _refused(
            "IncompleteSignatureException",
            "X-Amz-Date must be the signing time as YYYYMMDD'T'HHMMSS'Z'.",
        ) from exc
    skew = abs((datetime.now(UTC) - when).total_seconds())
    if skew > settings.REGISTRY_SAGEMAKER_CLOCK_SKEW:
        raise _refused(
            "InvalidSignatureException",
            f"Signature expired: X-Amz-Date {stamp} is more than "
            f"{settings.REGISTRY_SAGEMAKER_CLOCK_SKEW // 60} minutes from the "
            "server's time.",
        )
    if stamp[:8] != date:
        raise _refused(
            "InvalidSignatureException",
            "The credential's date does not match X-Amz-Date.",
        )
    return stamp


def _signature(
    request: HttpRequest, parts: Any, signed: list[str], stamp: str, secret: str
) -> str:
    body = request.body
    headers: dict[str, str] = {}
    for name in signed:
        value = request.headers.get(name)
        if value is None:
            raise _refused(
                "IncompleteSignatureException", f"Signed header {name!r} is missing."
            )
        headers[name] = value
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        raise _refused(
            "InvalidSignatureException", "X-Amz-Content-SHA256 does not match the body."
        )
    url = f"{request.scheme}://{headers['host']}{request.get_full_path()}"
    aws = AWSRequest(method=request.method, url=url, headers=headers, data=body)
    aws.context["timestamp"] = stamp
    aws.context["payload_signing_enabled"] = True
    signer = SigV4Auth(
        Credentials(parts["key"], secret), parts["service"], parts["region"]
    )
    canonical = signer.canonical_request(aws)
    return str(signer.signature(signer.string_to_sign(aws, canonical), aws))
