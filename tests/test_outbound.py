"""Issue 10, defect 12: IPv6 transition addresses that lead to private IPv4 are
refused when a URL is configured and again when connecting."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from common import outbound
from common.errors import Invalid
from webhooks import services as hooks
from webhooks.models import Delivery

SECRET = "whsec-0123456789abcdef"
LEADING_INSIDE = {
    "6to4 of 10.0.0.1": "2002:a00:1::1",
    "6to4 of the metadata address": "2002:a9fe:a9fe::1",
    "6to4 of loopback": "2002:7f00:1::1",
    "NAT64 of the metadata address": "64:ff9b::a9fe:a9fe",
    "NAT64 of 192.168.1.1": "64:ff9b::c0a8:101",
    "local-use NAT64": "64:ff9b:1::808:808",
    "Teredo with client 10.0.0.1": "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    "Teredo with server 10.0.0.1": "2001:0:a00:1:8000:63bf:f7f7:f7f7",
    "IPv4-mapped 10.0.0.1": "::ffff:10.0.0.1",
    "IPv4-mapped metadata address": "::ffff:169.254.169.254",
}
LEADING_OUTSIDE = {
    "6to4 of 8.8.8.8": "2002:808:808::1",
    "NAT64 of 8.8.8.8": "64:ff9b::808:808",
    "IPv4-mapped 8.8.8.8": "::ffff:8.8.8.8",
}
inside = pytest.mark.parametrize(
    "address", LEADING_INSIDE.values(), ids=LEADING_INSIDE.keys()
)


@pytest.fixture(autouse=True)
def _nothing_allowed(settings: Any) -> None:
    settings.REGISTRY_OUTBOUND_ALLOW = []


@inside
def test_a_transition_address_to_a_private_ipv4_is_refused_when_configured(
    address, client_for, deployer
):
    response = client_for(deployer).post(
        "/api/v1/webhooks/",
        {"url": f"http://[{address}]/hook", "events": ["*"], "secret": SECRET},
        format="json",
    )

    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"]


@inside
def test_a_transition_address_is_refused_when_connecting(address):
    with pytest.raises(outbound.OutboundRefused):
        outbound.post_json(f"http://[{address}]:9/hook", {}, secret=SECRET)


@inside
def test_a_name_that_resolves_to_one_is_refused_when_connecting(address, monkeypatch):
    """The check runs on the DNS answer at send time, not only on the URL."""

    def answer(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", answer)

    with pytest.raises(outbound.OutboundRefused):
        outbound.post_json("http://hooks.example.com/x", {}, secret=SECRET)


@inside
def test_a_delivery_to_one_fails_without_being_sent(address, deployer, settings):
    settings.REGISTRY_OUTBOUND_ALLOW = ["::/0"]  # accepted when it was configured
    subscription = hooks.subscription_create(
        actor=deployer, url=f"http://[{address}]:9/hook", events=["*"], secret=SECRET
    )
    delivery = hooks.delivery_test(actor=deployer, subscription=subscription)
    settings.REGISTRY_OUTBOUND_ALLOW = []

    assert hooks.delivery_attempt(delivery.pk) == "failed"
    assert Delivery.objects.get(pk=delivery.pk).last_error.startswith("refused")


@pytest.mark.parametrize(
    "address", LEADING_OUTSIDE.values(), ids=LEADING_OUTSIDE.keys()
)
def test_a_transition_address_to_a_public_ipv4_is_accepted(address):
    url = f"http://[{address}]/hook"
    assert outbound.validate_url(url, "url") == url


def test_an_allowed_network_is_allowed_through_a_mapped_address(settings):
    settings.REGISTRY_OUTBOUND_ALLOW = ["10.0.0.0/8"]
    url = "http://[::ffff:10.0.0.1]/hook"
    assert outbound.validate_url(url, "url") == url
    with pytest.raises(Invalid):
        outbound.validate_url("http://[::ffff:192.168.0.1]/hook", "url")
