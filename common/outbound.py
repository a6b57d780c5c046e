"""Every outbound HTTP call of the registry: SSRF-checked, signed, with timeouts.

A URL is checked when it is configured and again when connecting, after DNS
resolution, and the connection goes to the address that was checked (so a DNS
answer cannot change between check and use). Loopback, private, link-local,
multicast, reserved and cloud metadata addresses are refused unless
``REGISTRY_OUTBOUND_ALLOW`` (comma-separated CIDRs) allows them; IPv6 transition
addresses (IPv4-mapped, 6to4, Teredo, NAT64) are judged by the IPv4 inside them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

from common.errors import Forbidden, Invalid

SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept a timestamp for


class OutboundRefused(Exception):
    """The URL resolves to an address the registry will not call."""


@dataclass
class OutboundResponse:
    status: int
    body: str
    duration_ms: float


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(c, strict=False) for c in settings.REGISTRY_OUTBOUND_ALLOW
    ]


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# RFC 8215 local-use NAT64: the IPv4 may sit anywhere, and it is never global.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 transition address leads to (mapped, 6to4, Teredo
    server and client, NAT64); empty for other addresses."""
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address in _SIXTOFOUR and address.sixtofour:
        return [address.sixtofour]
    if address in _TEREDO and address.teredo:
        return list(address.teredo)
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _forbidden(address: Address) -> bool:
    if any(address in net for net in _allowed_networks()):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return True
        embedded = _embedded_ipv4(address)
        if embedded:
            # The prefix says nothing of where the packets go; the IPv4 inside does.
            return any(_forbidden(v4) for v4 in embedded)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address) for ``url``, or OutboundRefused."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundRefused("only http:// and https:// URLs with a host are allowed")
    if parts.username or parts.password:
        raise OutboundRefused("credentials in the URL are not allowed; use the secret")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundRefused(f"cannot resolve {parts.hostname!r}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    bad = [str(a) for a in addresses if _forbidden(a)]
    if bad or not addresses:
        raise OutboundRefused(
            f"{parts.hostname} resolves to {', '.join(bad) or 'nothing'}, a private, "
            "loopback, link-local or metadata address (allow it with REGISTRY_OUTBOUND_ALLOW)"
        )
    return parts.scheme, parts.hostname, port, str(addresses[0])


def validate_url(url: str, field: str) -> str:
    """Check a URL when it is configured; raise Invalid naming ``field``."""
    try:
        resolve(url)
    except OutboundRefused as exc:
        raise Invalid.on(field, str(exc)) from exc
    return url


def check_retarget(
    fields: dict[str, Any],
    names: tuple[str, str],
    *,
    current_url: str,
    may_retarget: bool,
    what: str,
) -> None:
    """Only the owner or an admin (``may_retarget``) points an outbound target
    elsewhere or sets its secret; a new URL needs the secret set again, so no one
    inherits the old one. ``names``: the URL field and the secret field."""
    url_field, secret_field = names
    moved = url_field in fields and fields[url_field] != current_url
    if not (moved or secret_field in fields):
        return
    if not may_retarget:
        raise Forbidden(
            f"Only the {what}'s owner or an admin may change its URL or secret."
        )
    if moved and secret_field not in fields:
        message = "Set the secret again when the URL changes."
        raise Invalid.on(secret_field, message)


def sign(secret: str, timestamp: int, body: bytes, scope: str = "") -> str:
    """``sha256=<hex HMAC of "<timestamp>.<body>">``; with a ``scope`` (for example a
    deployment id) ``"<timestamp>.<scope>.<body>"``, so a signature made for one
    scope does not verify for another."""
    prefix = f"{timestamp}." + (f"{scope}." if scope else "")
    mac = hmac.new(secret.encode(), prefix.encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    tolerance: int = SIGNATURE_TOLERANCE,
    scope: str = "",
) -> bool:
    """What a receiver does: a fresh timestamp and a matching HMAC."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body, scope), signature or "")


def post_json(
    url: str,
    payload: Any,
    *,
    secret: str,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> OutboundResponse:
    """POST signed JSON to ``url`` (re-checked after DNS); raises OutboundRefused or
    urllib3 errors for transport failures."""
    scheme, host, port, address = resolve(url)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": "model-registry/1",
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "X-Registry-Timestamp": str(timestamp),
        "X-Registry-Signature": sign(secret, timestamp, body),
        **(headers or {}),
    }
    pool_kwargs: dict[str, Any] = {
        "timeout": urllib3.Timeout(connect=5, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=host, assert_hostname=host, **pool_kwargs
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **pool_kwargs)
    start = time.perf_counter()
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers=all_headers,
            redirect=False,
            preload_content=False,
        )
        excerpt = response.read(2048, decode_content=True).decode(errors="replace")
        response.release_conn()
    finally:
        pool.close()
    return OutboundResponse(
        response.status, excerpt, (time.perf_counter() - start) * 1000
    )
