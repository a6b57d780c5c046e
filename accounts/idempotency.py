"""``Idempotency-Key`` for POSTs that create things.

The first request with a key runs and its answer is kept for a day; a retry with the
same key and the same body gets that answer again (header ``Idempotent-Replayed:
true``), even while the first is still running (it waits for it). The same key with
a different body is a 409. Answers of 5xx are not kept, so the retry runs again.

Secrets in an answer (a new token's key) are not kept either: ``idempotent_without``
names them, and a replay answers them as ``null``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import IdempotencyKey
from common.errors import Conflict, Invalid

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
WAIT_SECONDS = 120.0


def fingerprint(request: Request) -> str:
    """A digest of what the request asks for: path, fields and uploaded files' SHA-256."""
    digest = hashlib.sha256(f"{request.method} {request.path}".encode())
    data = request.data
    fields: dict[str, Any] = {}
    if hasattr(data, "lists"):
        for name, values in data.lists():
            fields[name] = [
                v if isinstance(v, str) else _file_digest(v) for v in values
            ]
    else:
        fields = {"__json__": data}
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _file_digest(upload: Any) -> str:
    known = getattr(upload, "sha256", None)
    if known:
        return f"file:{known}"
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    return f"file:{sha.hexdigest()}"


def _claim(user: User, key: str, print_: str, path: str) -> tuple[IdempotencyKey, bool]:
    IdempotencyKey.objects.filter(
        user=user, key=key, created_at__lt=timezone.now() - KEEP
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user, key=key, fingerprint=print_, path=path
            ), True
    except IntegrityError:
        return IdempotencyKey.objects.get(user=user, key=key), False


def _replay(record: IdempotencyKey, print_: str) -> Response:
    if record.fingerprint != print_:
        message = "This key was used for a different request."
        raise Conflict.on(HEADER, message)
    deadline = time.monotonic() + WAIT_SECONDS
    while record.status_code is None and time.monotonic() < deadline:
        time.sleep(0.05)
        fresh = IdempotencyKey.objects.filter(pk=record.pk).first()
        if fresh is None:  # the first attempt failed with a 5xx: nothing to replay
            raise Conflict(
                f"{HEADER}: The first request with this key failed; retry.",
                fields={HEADER: "The first request failed; retry."},
            )
        record = fresh
    if record.status_code is None:
        raise Conflict(
            f"{HEADER}: A request with this key is still running.",
            fields={HEADER: "Still running."},
        )
    return Response(
        record.response,
        status=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF ``create``-like view method (or a POST ``@action``)."""
    return _wrap(view, unstored=())


def idempotent_without(
    *fields: str,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Like ``idempotent``, but these answer fields are never stored (secrets)."""
    return functools.partial(_wrap, unstored=fields)


def _kept(data: Any, unstored: tuple[str, ...]) -> Any:
    if not unstored or not isinstance(data, dict):
        return data
    return {name: None if name in unstored else value for name, value in data.items()}


def _wrap(
    view: Callable[..., Response], *, unstored: tuple[str, ...]
) -> Callable[..., Response]:
    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST":
            return view(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255 or not key.isprintable():
            message = "1 to 255 printable characters."
            raise Invalid.on(HEADER, message)
        print_ = fingerprint(request)
        # The view's authentication and permissions ran first: a signed-in user.
        user = cast("User", request.user)
        record, first = _claim(user, key, print_, request.path)
        if not first:
            return _replay(record, print_)
        try:
            response = view(self, request, *args, **kwargs)
        except Exception as exc:
            try:
                response = self.handle_exception(exc)
            except Exception:
                IdempotencyKey.objects.filter(pk=record.pk).delete()
                raise
        if response.status_code >= 500:
            IdempotencyKey.objects.filter(pk=record.pk).delete()
        else:
            IdempotencyKey.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                response=_kept(response.data, unstored),
            )
        return response

    return wrapper
