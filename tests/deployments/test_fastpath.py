"""Issue 13: the invocation fast path answers exactly as Django's view did.

Every request goes once to Django's own WSGI application (the DRF view, as before
the fast path) and once to the fast path composed in front of it
(``registry_site.wsgi``), in this process; status, headers and body must be equal,
and the fast path must have answered the plain successes itself.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.utils import timezone

from accounts import services as accounts
from accounts.authentication import InvocationTokenAuthentication
from common import changes
from deployments import serving
from deployments.fastpath import FastPath
from registry_site.wsgi import django_application
from tests.helpers import SAMPLE

pytestmark = pytest.mark.django_db(transaction=True)

INVOKE = "/api/v1/endpoints/iris-prod/invocations"


class Counting:
    """Django's application, counting the requests it answers."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return django_application(environ, start_response)


def call(
    app: Callable[..., Iterable[bytes]],
    path: str = INVOKE,
    body: bytes | dict | None = None,
    key: str | None = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    raw = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
            "REMOTE_ADDR": "127.0.0.1",
        }
    )
    if key is not None:
        environ["HTTP_AUTHORIZATION"] = f"Token {key}"
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = int(status.split()[0]), headers

    chunks = app(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    answered = {k.lower(): v for k, v in seen["headers"] if k.lower() != "date"}
    return seen["status"], answered, content


@pytest.fixture
def live(worker, endpoint, register_version, approve_and_deploy):
    """v1 live on iris-prod. The tests commit (transaction=True), so the session's
    real worker sees the approval as well: it shares the artifacts' folder, and
    whichever of the two runs the deployment, it ends before the test goes on."""
    version = register_version()
    approve_and_deploy(version)
    return version


@pytest.fixture
def key_for() -> Callable[..., str]:
    def make(user: Any, **fields: Any) -> str:
        return accounts.token_issue(user=user, **fields)[1]

    return make


def both(*args: Any, **kwargs: Any) -> tuple[tuple, tuple, Counting]:
    """The same request to Django alone and to the fast path (remembered state
    dropped between the two, so each starts as a fresh process would)."""
    serving.forget()
    InvocationTokenAuthentication.forget()
    before = call(django_application, *args, **kwargs)
    serving.forget()
    InvocationTokenAuthentication.forget()
    django = Counting()
    fast = FastPath(django, listen=False)
    # The first successes are Django's (headers learnt, token remembered, model loaded).
    call(fast, *args, **kwargs)
    call(fast, *args, **kwargs)
    django.calls = 0
    after = call(fast, *args, **kwargs)
    return before, after, django


def test_a_prediction_is_answered_by_the_fast_path_as_django_answered_it(
    live, viewer, key_for
):
    key = key_for(viewer)

    before, after, django = both(body={"inputs": SAMPLE}, key=key)

    assert before[0] == 200, before
    assert json.loads(before[2])["model_version"] == 1
    assert before[1]["x-model-version"] == "1"
    assert after == before
    assert django.calls == 0


def test_the_fast_path_checks_a_token_it_has_not_seen_itself(live, viewer, key_for):
    key = key_for(viewer)
    django = Counting()
    fast = FastPath(django, listen=False)
    call(fast, body={"inputs": SAMPLE}, key=key)  # Django's: headers learnt
    InvocationTokenAuthentication.forget()

    assert call(fast, body={"inputs": SAMPLE}, key=key)[0] == 200
    assert django.calls == 1


def test_instances_are_inputs_too(live, viewer, key_for):
    before, after, django = both(body={"instances": SAMPLE}, key=key_for(viewer))

    assert before[0] == 200
    assert after == before
    assert django.calls == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid"),
        ({"rows": SAMPLE}, 400, "invalid"),
        (b"[1, 2]", 400, "invalid"),
        ({"inputs": [[1.0, 2.0]]}, 400, "invalid"),
        ({"inputs": [[True, 1, 2, 3]]}, 400, "invalid"),
        ({"inputs": []}, 400, "invalid"),
        ({"inputs": "text"}, 400, "invalid"),
        (
            b'{"inputs": [[1, 2, 3, 4]], "x": ' + b"[" * 70 + b"]" * 70 + b"}",
            400,
            "invalid",
        ),
        (b'{"inputs": ' + b"[" * 70 + b"]" * 70 + b"}", 400, "invalid"),
        (b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "invalid"),
    ],
)
def test_bad_input_gets_django_s_answer(live, viewer, key_for, body, status, code):
    before, after, _ = both(body=body, key=key_for(viewer))

    assert before[0] == status, before
    assert json.loads(before[2])["error"]["code"] == code
    assert after == before


def test_a_shape_the_version_s_schema_does_not_declare_is_a_400(
    worker, endpoint, register_version, approve_and_deploy, viewer, key_for
):
    approve_and_deploy(
        register_version(
            input_schema={"shape": [1, 4]}, sample_payload={"inputs": SAMPLE[:1]}
        )
    )

    before, after, _ = both(body={"inputs": SAMPLE}, key=key_for(viewer))

    assert before[0] == 400, before
    assert "input_schema" in json.loads(before[2])["error"]["message"]
    assert after == before


def test_authentication_failures_get_django_s_answers(live, viewer, key_for):
    expired = key_for(viewer)
    accounts.ApiToken.objects.filter(user=viewer).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    for key, headers in [
        (None, {}),
        ("mr_nope", {}),
        (expired, {}),
        (None, {"Authorization": "Token"}),
        (None, {"Authorization": "Bearer abc"}),
    ]:
        before, after, _ = both(body={"inputs": SAMPLE}, key=key, headers=headers)
        assert before[0] == 401, (key, headers, before)
        assert after == before


def test_a_token_without_the_invoke_scope_is_refused_as_before(live, viewer, key_for):
    key = key_for(viewer, scopes=["read"])

    before, after, _ = both(body={"inputs": SAMPLE}, key=key)

    assert before[0] == 403, before
    assert after == before


def test_a_user_without_a_role_is_refused_as_before(live, norole, key_for):
    before, after, _ = both(body={"inputs": SAMPLE}, key=key_for(norole))

    assert before[0] == 403, before
    assert after == before


def test_nothing_live_and_no_such_endpoint(endpoint, viewer, key_for):
    key = key_for(viewer)

    before, after, _ = both(body={"inputs": SAMPLE}, key=key)
    assert before[0] == 503, before
    assert json.loads(before[2])["error"]["code"] == "not_serving"
    assert after == before

    before, after, _ = both(
        "/api/v1/endpoints/nope/invocations", body={"inputs": SAMPLE}, key=key
    )
    assert before[0] == 404, before
    assert after == before


def test_a_body_over_the_limit_is_a_413_as_before(live, viewer, key_for, settings):
    settings.REGISTRY_MAX_INVOCATION_SIZE = 64
    before, after, _ = both(body={"inputs": SAMPLE * 10}, key=key_for(viewer))

    assert before[0] == 413, before
    assert after == before


def test_the_invocation_rate_limit_holds_on_the_fast_path(
    live, viewer, key_for, settings
):
    settings.REGISTRY_RATE_LIMITS = {
        **settings.REGISTRY_RATE_LIMITS,
        "invocation": "3/m",
    }
    from django.core.cache import caches

    caches["default"].clear()
    key = key_for(viewer)
    fast = FastPath(django_application, listen=False)
    answers = [call(fast, body={"inputs": SAMPLE}, key=key) for _ in range(4)]

    assert [a[0] for a in answers] == [200, 200, 200, 429]
    assert "retry-after" in answers[3][1]


def test_other_requests_go_to_django_unchanged(live, viewer, key_for):
    django = Counting()
    fast = FastPath(django, listen=False)

    status, _, _ = call(fast, "/healthz", method="GET")
    assert status == 200
    status, _, _ = call(
        fast, "/api/v1/endpoints/iris-prod/", method="GET", key=key_for(viewer)
    )
    assert status == 200
    assert django.calls == 2


def test_a_serving_only_process_answers_nothing_but_predictions(live, viewer, key_for):
    key = key_for(viewer)
    django = Counting()
    serve = FastPath(django, serving_only=True, listen=False)

    assert call(serve, body={"inputs": SAMPLE}, key=key)[0] == 200
    assert call(serve, "/healthz", method="GET")[0] == 200
    assert call(serve, "/api/v1/endpoints/iris-prod/", method="GET", key=key)[0] == 404
    assert call(serve, "/models/", method="GET")[0] == 404
    assert call(serve, "/admin/", method="GET")[0] == 404
    # Refusals on the invocation path are still Django's.
    assert call(serve, body={"inputs": SAMPLE}, key="mr_nope")[0] == 401


def test_a_revoked_token_stops_at_the_bell(live, viewer, key_for):
    key = key_for(viewer)
    fast = FastPath(django_application, listen=False)
    assert call(fast, body={"inputs": SAMPLE}, key=key)[0] == 200

    token = accounts.ApiToken.objects.get(user=viewer)
    accounts.token_revoke(token=token)
    fast.changed()  # what the bell's listener calls

    assert call(fast, body={"inputs": SAMPLE}, key=key)[0] == 401


def test_the_bell_rings_after_a_revocation_commits(live, viewer, key_for, request):
    rung: list[float] = []
    listener = changes.Listener(lambda: rung.append(time.monotonic()), 0.005)
    listener.start()
    request.addfinalizer(listener.stop)
    token = accounts.token_issue(user=viewer)[0]

    started = time.monotonic()
    accounts.token_revoke(token=token)
    deadline = started + 2
    while not rung and time.monotonic() < deadline:
        time.sleep(0.005)

    assert rung, "the bell did not ring"
    assert rung[0] - started < 0.1


def test_the_bell_reaches_other_machines_through_redis(settings, request):
    from tests.helpers import reachable, require_service

    require_service(
        reachable(settings.TEST_REDIS_URL), f"Redis at {settings.TEST_REDIS_URL}"
    )
    settings.CACHE_URL = settings.TEST_REDIS_URL
    rung: list[float] = []
    # The file bell looked at only every 1000 s: what arrives comes through Redis.
    listener = changes.Listener(lambda: rung.append(time.monotonic()), 1000)
    listener.start()
    request.addfinalizer(listener.stop)
    time.sleep(0.5)  # subscribed

    started = time.monotonic()
    changes.ring()
    while not rung and time.monotonic() - started < 5:
        time.sleep(0.005)

    assert rung, "nothing arrived through Redis"
    assert rung[0] - started < 0.1
