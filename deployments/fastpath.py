"""The invocation fast path: a small WSGI layer in front of Django.

``POST /api/v1/endpoints/{name}/invocations`` with a remembered, valid token and a
well-formed body is answered here: the token from the per-process cache of the
invocation path (expiry, the ``invoke`` scope and permission, revocations pushed by
``common.changes``), the live pointer and model from ``deployments.serving``, input
validation against the version's signature, the model call, JSON out. Anything this
layer is not sure of (no token or a session, a token not yet remembered or refused, a
rate limit reached, bad JSON, bad inputs, nothing live, any error) is handed to
Django's view with the body untouched, so every answer but the plain success is
Django's own, byte for byte. Every other request goes to Django unchanged.

The Open Inference Protocol (``/v2/...``, ``deployments.oip``) is answered here too.
With ``serving_only`` (``make serve``) nothing else is: Django answers only the
invocation path's refusals and ``/healthz`` and ``/readyz``; other paths are 404.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from accounts.authentication import InvocationTokenAuthentication
from accounts.models import hash_key
from accounts.roles import may_invoke
from accounts.throttling import Caller, InvocationThrottle, token_failures_wait
from common import changes, jsonsafe
from deployments import serving

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

INVOCATIONS = re.compile(r"^/api/v1/endpoints/([A-Za-z0-9._~-]+)/invocations/?$")
SERVING_ONLY_TO_DJANGO = re.compile(
    r"^/(healthz|readyz)/?$|^/api/v1/endpoints/[^/]+/invocations/?$"
)

# Headers of Django's own answers: the first invocation answered with 200 in this
# process (per scheme) is left to Django, and its headers are used for every answer
# of the fast path (security headers, CSP, HSTS where it applies, Vary, Allow), so
# they are Django's whatever the settings.
_CHANGING = {"x-model-version", "content-length", "date"}


def _json(body: Any) -> bytes:
    """As DRF's JSONRenderer writes it (compact, UTF-8, no NaN)."""
    return json.dumps(
        body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()


class FastPath:
    """WSGI middleware: invocations and ``/v2/`` here, the rest to ``app``."""

    def __init__(
        self, app: WSGIApp, *, serving_only: bool = False, listen: bool = True
    ) -> None:
        self.app, self.serving_only = app, serving_only
        self.auth = InvocationTokenAuthentication()
        self._headers: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._checked = threading.local()  # a token checked in the database
        # listen=False (tests): no bell listener or status thread in this process.
        self._started = not listen
        self._start_lock = threading.Lock()

    # -- process-wide: the bell and the status file ----------------------------------
    def _start(self) -> None:
        """Once per process (after gunicorn forks): listen for changes."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        changes.Listener(self.changed, settings.REGISTRY_SERVING_BELL_INTERVAL).start()
        threading.Thread(
            target=self._report_loop, daemon=True, name="serving-status"
        ).start()

    @staticmethod
    def changed() -> None:
        """A token was revoked or a live pointer moved somewhere: forget remembered
        tokens and look up every endpoint again (new versions load in the
        background; requests keep the old one until then)."""
        InvocationTokenAuthentication.forget()
        serving.recheck_all()
        serving.report_status()

    @staticmethod
    def _report_loop() -> None:
        while True:
            time.sleep(settings.REGISTRY_SERVING_STATUS_INTERVAL)
            try:
                serving.report_status()
            except Exception:
                log.warning("serving: could not write the status file", exc_info=True)

    # -- WSGI ------------------------------------------------------------------------
    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if not self._started:
            self._start()
        path = environ.get("PATH_INFO", "")
        if path.startswith("/v2/"):
            from deployments import oip

            return oip.handle(environ, start_response, path)
        if environ.get("REQUEST_METHOD") == "POST":
            match = INVOCATIONS.match(path)
            if match is not None:
                scheme = (
                    environ.get("wsgi.url_scheme", ""),
                    environ.get("HTTP_X_FORWARDED_PROTO", ""),
                )
                headers = self._headers.get(scheme)
                if headers is None:
                    return self._learn(environ, start_response, scheme)
                answer = self._invoke(environ, match.group(1))
                if answer is not None:
                    status, body, extra = answer
                    start_response(
                        status,
                        [*headers, *extra, ("Content-Length", str(len(body)))],
                    )
                    return [body]
        if self.serving_only and not SERVING_ONLY_TO_DJANGO.match(path):
            return _not_found(start_response)
        return self.app(environ, start_response)

    def _learn(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        scheme: tuple[str, str],
    ) -> Iterable[bytes]:
        """Let Django answer, and keep the headers of its first token-authenticated
        200 (no cookies involved) for the fast path's answers."""
        learnable = environ.get("HTTP_AUTHORIZATION", "").lower().startswith(
            "token "
        ) and not environ.get("HTTP_COOKIE")

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            names = {name.lower() for name, _ in headers}
            if learnable and status.startswith("200") and "x-model-version" in names:
                self._headers[scheme] = [
                    (name, value)
                    for name, value in headers
                    if name.lower() not in _CHANGING and name.lower() != "set-cookie"
                ]
            return start_response(status, headers, exc_info)

        return self.app(environ, capture)

    def _invoke(
        self, environ: dict[str, Any], name: str
    ) -> tuple[str, bytes, list[tuple[str, str]]] | None:
        """The answer's status, body and headers, or None to let Django answer (then
        the body read here is put back). A run stopped at the time limit is answered
        here: Django would run the model again."""
        header = environ.get("HTTP_AUTHORIZATION", "").split()
        if len(header) != 2 or header[0].lower() != "token":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length <= 0 or length > settings.REGISTRY_MAX_INVOCATION_SIZE:
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        before = serving.lookups
        self._checked.active = False
        try:
            answered = self._answer(environ, header[1], raw, name)
        except serving.TimedOut as exc:
            return "503 Service Unavailable", _timed_out(str(exc)), []
        except Exception:  # Django answers it, as it always did
            log.debug("fast path: handing %s to Django", name, exc_info=True)
            return None
        finally:
            if self._checked.active or serving.lookups != before:
                # As Django does at the end of a request that used the database.
                close_old_connections()
        if answered is None:
            return None
        body, version = answered
        return "200 OK", body, [("X-Model-Version", str(version))]

    def _answer(
        self, environ: dict[str, Any], key: str, raw: bytes, name: str
    ) -> tuple[bytes, int] | None:
        caller = Caller(environ)
        user, auth = self._authenticate(key, caller)
        if user is None:
            return None
        allowed = getattr(auth, "may_invoke", None)
        if allowed is None:
            allowed = may_invoke(user)
        if not allowed:
            return None
        body = json.loads(raw)
        if type(body) is not dict:
            return None
        if "inputs" in body:
            inputs = body["inputs"]
        elif "instances" in body:
            inputs = body["instances"]
        else:
            return None
        plain = _rows(inputs) and all(
            value is inputs or type(value) not in (list, dict)
            for value in body.values()
        )
        if not plain and jsonsafe.depth_exceeded(body):
            return None  # Django says how deep is too deep
        # The input is checked before a rate-limit slot is taken; a request handed
        # to Django after this point keeps the decision (counted once).
        if settings.REGISTRY_RATE_LIMITS.get("invocation") is not None:
            throttle = InvocationThrottle()
            if not throttle.allow_request(Caller(environ, user, auth), None):
                return None
        live, outputs = serving.predict(name, inputs)
        first = next(iter(outputs.values()))
        answer = {
            "predictions": first,
            "model_version": live.version_number,
            "outputs": outputs,
        }
        return _json(answer), live.version_number

    def _authenticate(self, key: str, caller: Caller) -> tuple[Any, Any]:
        """The remembered token, or one checked now (then remembered); (None, None)
        when Django must answer (refused, or this address is being rate limited)."""
        hit = InvocationTokenAuthentication._cache.get(hash_key(key))
        if (
            hit is not None
            and hit.until > time.monotonic()
            and self.auth.fresh_enough(hit)
        ):
            return hit.user, hit
        if token_failures_wait(caller) is not None:
            return None, None
        self._checked.active = True
        return self.auth.check_key(key)


def _rows(inputs: Any) -> bool:
    """A list of flat rows of plain values: nested three levels, no deeper."""
    return type(inputs) is list and all(
        type(row) is list and all(type(v) not in (list, dict) for v in row)
        for row in inputs
    )


def _timed_out(message: str) -> bytes:
    """The body of the view's 503 for a run stopped at the time limit."""
    error = {"status": 503, "code": "timeout", "message": message, "fields": {}}
    return _json({"error": error})


def _not_found(start_response: StartResponse) -> list[bytes]:
    body = _json(
        {
            "error": {
                "status": 404,
                "code": "not_found",
                "message": "This process only serves predictions.",
                "fields": {},
            }
        }
    )
    start_response(
        "404 Not Found",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
