"""Every route of the project is guarded: walked from the URL configuration itself, so
a route added later is checked without anyone listing it here.

Anonymous callers are refused on every route and method (401/403 for the API, a
redirect to sign in for pages and the admin), except the few listed in ``OPEN``.
Signed-in users without a registry role are refused the same way. A viewer is refused
every state-changing method, except the few listed in ``VIEWER_MAY``. Path parameters
are filled with objects that exist, so a refusal is never a 404 for a missing object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from accounts.services import access_key_issue, token_issue
from catalog.models import Alias, Event, ModelGroup, ModelVersion
from deployments.models import Deployment, Endpoint
from tests import models as real_models
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
WRITES = ("POST", "PUT", "PATCH", "DELETE")

# Routes anyone may call, each with the reason. Static files are served by
# WhiteNoise's middleware, ahead of the URL configuration (no route to list).
OPEN = {
    "healthz": "liveness probe, says nothing but ok/error",
    "readyz": "readiness probe",
    "accounts/login/": "the sign-in page",
    "accounts/logout/": "signing out signs nobody in",
    "admin/login/": "the admin's sign-in page",
    "admin/logout/": "signing out signs nobody in",
    "api/v1/^ray-artifacts/(?P<token>[A-Za-z0-9_:.-]+)/?$": (
        "Ray replicas' artifact download: the signed URL is the credential (a bad "
        "or expired signature, or a version no longer Approved, is 404)"
    ),
}
# Writes a viewer may make: call endpoints, and manage the viewer's own tokens.
VIEWER_MAY = {
    ("api/v1/^endpoints/(?P<name>[^/]+)/invocations/?$", "POST"): "invoke",
    ("api/v1/^tokens/?$", "POST"): "issue an own token",
    ("api/v1/^access-keys/?$", "POST"): "issue an own access key",
    ("endpoints/<str:name>/try/", "POST"): "invoke from the page",
    ("account/tokens/", "POST"): "issue an own token",
    ("account/access-keys/", "POST"): "issue an own access key",
}
# What a signed-in user without a role may do: its own tokens (they carry no role).
NO_ROLE_MAY = {
    ("api/v1/^tokens/?$", "GET"): "list own tokens",
    ("api/v1/^tokens/?$", "POST"): "issue an own token",
    ("api/v1/^tokens/?$", "OPTIONS"): "describe the token list",
    ("api/v1/^tokens/(?P<pk>[0-9]{1,18})/?$", "OPTIONS"): "describe a token",
    ("api/v1/^tokens/(?P<pk>[0-9]{1,18})/revoke/?$", "OPTIONS"): "describe revoking",
    ("api/v1/^access-keys/?$", "GET"): "list own access keys",
    ("api/v1/^access-keys/?$", "POST"): "issue an own access key",
    ("api/v1/^access-keys/?$", "OPTIONS"): "describe the access key list",
    ("api/v1/^access-keys/(?P<pk>[0-9]{1,18})/?$", "OPTIONS"): "describe a key",
    (
        "api/v1/^access-keys/(?P<pk>[0-9]{1,18})/revoke/?$",
        "OPTIONS",
    ): "describe revoking",
}
# Routes whose objects belong to one user: another user's object is invisible (404),
# which refuses as well as a 403 does.
OWN_ONLY = {
    "api/v1/^tokens/(?P<pk>[0-9]{1,18})/?$",
    "api/v1/^tokens/(?P<pk>[0-9]{1,18})/revoke/?$",
    "account/tokens/<id:pk>/revoke/",
    "account/access-keys/<id:pk>/revoke/",
    "api/v1/^access-keys/(?P<pk>[0-9]{1,18})/?$",
    "api/v1/^access-keys/(?P<pk>[0-9]{1,18})/revoke/?$",
}
# A 400 (or a page's redirect back to the form) answers bad input and proves no
# refusal: routes that validate before refusing get a valid body here. Bodies are
# JSON for the API and form fields for pages; MULTIPART ones are sent as uploads.
MULTIPART = "multipart"
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("api/v1/^model-groups/?$", "POST"): {"name": "new-group"},
    ("api/v1/^model-groups/(?P<group_name>[^/]+)/versions/?$", "POST"): {
        MULTIPART: True
    },
    (
        "api/v1/^model-groups/(?P<group_name>[^/]+)/versions/(?P<version>[0-9]+)/artifact/?$",
        "POST",
    ): {MULTIPART: True},
    (
        "api/v1/^model-groups/(?P<group_name>[^/]+)/aliases/(?P<alias>[^/]+)/?$",
        "PUT",
    ): {"version": 1},
    ("api/v1/^endpoints/?$", "POST"): {"name": "new-endpoint", "model_group": "iris"},
    ("api/v1/^endpoints/(?P<name>[^/]+)/deployments/?$", "POST"): {"version": 1},
    ("models/<str:group>/versions/<id:number>/review/", "POST"): {
        "decision": "approve",
        "comment": "ok",
    },
}

_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    route: str  # the pattern text, as listed in OPEN and VIEWER_MAY
    callback: Any
    segments: tuple[tuple[str, str], ...]  # (literal text, parameter name) pairs

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, text)
        elif isinstance(pattern, URLPattern):
            yield text, pattern


def _segments(route: str) -> tuple[tuple[str, str], ...]:
    parts: list[tuple[str, str]] = []
    position = 0
    for match in _PARAM.finditer(route):
        parts.append((route[position : match.start()], match["name"] or match["rname"]))
        position = match.end()
    parts.append((route[position:], ""))
    return tuple(parts)


def all_routes() -> list[Route]:
    return [
        Route(route, pattern.callback, _segments(route))
        for route, pattern in _walk(get_resolver().url_patterns)
    ]


def _literal(text: str) -> str:
    """A regex route's literal part as a path: anchors dropped, the optional
    trailing slash of the API routers taken."""
    return text.replace("^", "").replace("$", "").replace("/?", "/").replace("\\", "")


@pytest.fixture
def world(make_user: Any, admin_user: Any) -> dict[str, Any]:
    """One object of each kind a path parameter names, owned by someone else than the
    callers under test."""
    owner = make_user("contributor", "deployer")
    group = ModelGroup.objects.create(name="iris", created_by=owner, next_version=2)
    version = ModelVersion.objects.create(
        group=group,
        version=1,
        registration_status="Ready",
        artifact_key="k/1",
        artifact_sha256="0" * 64,
        artifact_size=1,
        artifact_format="onnx",
        created_by=owner,
    )
    Alias.objects.create(
        group=group, name="champion", version=version, updated_by=owner
    )
    endpoint = Endpoint.objects.create(name="iris", group=group, created_by=owner)
    deployment = Deployment.objects.create(
        endpoint=endpoint, version=version, reason="manual", requested_by=owner
    )
    subscription = Subscription.objects.create(
        url="http://127.0.0.1:9/hook", secret="s", created_by=owner
    )
    delivery = Delivery.objects.create(
        subscription=subscription, kind="webhook.test", payload={}
    )
    event = Event.objects.create(kind="group.created", group=group, group_name="iris")
    token, _ = token_issue(user=owner, name="owner's")
    access_key, _ = access_key_issue(actor=owner, name="owner's")
    return {
        "owner": owner,
        "by_segment": {
            "tokens/": token.pk,
            "access-keys/": access_key.pk,
            "webhooks/": subscription.pk,
            "deliveries/": delivery.pk,
            "deployments/": deployment.pk,
            "events/": event.pk,
        },
    }


def _value(name: str, before: str, world: dict[str, Any]) -> str:
    if name in ("name", "group", "group_name"):
        return "iris"
    if name in ("version", "number"):
        return "1"
    if name == "alias":
        return "champion"
    if name in ("delivery", "delivery_pk"):
        return str(world["by_segment"]["deliveries/"])
    if name == "app_label":
        return "catalog"
    if name == "object_id":
        return _admin_object(before)
    if name == "url":
        return "no-such-page/"
    for segment, pk in world["by_segment"].items():
        if before.endswith(segment):
            return str(pk)
    return "1"


def _admin_object(before: str) -> str:
    """The pk of an existing row of the model an admin route is about."""
    match = re.search(r"admin/(\w+)/(\w+)/$", before)
    try:
        model = apps.get_model(match[1], match[2]) if match else None
    except LookupError:
        model = None
    if model is None:
        return "1"
    row = model._default_manager.order_by("pk").first()
    return str(row.pk) if row else "1"


def url_of(route: Route, world: dict[str, Any]) -> str:
    path = "/"
    for literal, name in route.segments:
        path += _literal(literal)
        if name:
            path += _value(name, path, world)
    match = resolve(path)
    assert match.func is route.callback, (
        f"{path} does not resolve to the route {route.route!r}: teach _value() a "
        f"plausible value for its parameters"
    )
    return path


def call(client: Client, method: str, route: Route, path: str) -> Any:
    body = BODIES.get((route.route, method), {})
    if body.get(MULTIPART):
        upload = SimpleUploadedFile("model.onnx", real_models.iris_onnx())
        return client.post(path, {"artifact": upload})
    if route.is_api:
        data = json.dumps(body).encode()
        return client.generic(method, path, data, content_type="application/json")
    return client.generic(
        method, path, urlencode(body), content_type="application/x-www-form-urlencoded"
    )


def refused(response: Any, route: Route) -> bool:
    """401/403, a 405 (the route does not take the method), or sent to sign in."""
    if response.status_code in (401, 403, 405):
        return True
    if response.status_code == 404:
        return route.route in OWN_ONLY
    if response.status_code == 302:
        login = "/admin/login/" if route.is_admin else "/accounts/login/"
        return response["Location"].startswith(login)
    return False


def refusals(client: Client, route: Route, path: str, methods: Any) -> dict:
    """The methods that were answered without a refusal, with their status."""
    answers = {m: call(client, m, route, path) for m in methods}
    return {m: r.status_code for m, r in answers.items() if not refused(r, route)}


ROUTES = all_routes()


def _id(route: Route) -> str:
    return route.route


def test_the_walk_finds_every_kind_of_route():
    texts = {route.route for route in ROUTES}

    assert {"healthz", "api/schema/", "api/docs/", "admin/", ""} <= texts
    assert any(text.startswith("api/v1/") for text in texts)
    assert any(text.startswith("admin/catalog/") for text in texts)
    assert set(OPEN) <= texts
    listed = {route for route, _ in [*VIEWER_MAY, *NO_ROLE_MAY, *BODIES]} | OWN_ONLY
    assert listed <= texts, f"stale entries (the route changed): {listed - texts}"


GUARDED = [route for route in ROUTES if route.route not in OPEN]


@pytest.mark.parametrize("route", GUARDED, ids=_id)
def test_anonymous_callers_are_refused_everywhere(route, world):
    path = url_of(route, world)

    answered = refusals(Client(), route, path, METHODS)

    assert not answered, f"{path} answers anonymous callers: {answered}"


@pytest.mark.parametrize("route", GUARDED, ids=_id)
def test_users_without_a_role_are_refused_everywhere(route, world, make_user):
    path = url_of(route, world)
    client = Client()
    client.force_login(make_user())
    methods = [m for m in METHODS if (route.route, m) not in NO_ROLE_MAY]

    answered = refusals(client, route, path, methods)

    assert not answered, f"{path} answers a user without a role: {answered}"


@pytest.mark.parametrize("route", GUARDED, ids=_id)
def test_viewers_are_refused_every_write(route, world, viewer):
    path = url_of(route, world)
    client = Client()
    client.force_login(viewer)
    methods = [m for m in WRITES if (route.route, m) not in VIEWER_MAY]

    answered = refusals(client, route, path, methods)

    assert not answered, f"{path} lets a viewer write: {answered}"
