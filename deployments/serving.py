"""In-process model serving for built-in endpoints.

Each web process keeps ``(version id, loaded model)`` per endpoint. It looks up the
endpoint's live version at most every ``REGISTRY_SERVING_REFRESH`` seconds. When the
pointer moves, a background thread verifies, loads and warms the new model while
requests keep using the old one; then the reference is swapped, so no request fails
during a switch. The first load of an endpoint happens in the request.

A change bell (``common.changes``, listened to by ``deployments.fastpath``) makes a
process look again at once (``recheck_all``) instead of at its next check. A failed
load is tried again after ``RETRY_FIRST`` seconds, doubling up to ``RETRY_MAX``;
``process_status`` / ``report_status`` / ``processes`` say what each process serves.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import close_old_connections

from catalog import attestations
from catalog.models import ModelVersion
from deployments import backends, isolated_serving
from deployments.models import Endpoint, Target
from modelformats import (
    InputError,
    LoadError,
    Predictor,
    PredictTimeout,
    check_shape,
    count_values,
    declared_shape,
    jsonable,
    warm_up_inputs,
)

log = logging.getLogger(__name__)


class NotServing(Exception):
    """The endpoint has no live model to answer with (503)."""


class OnRay(NotServing):
    """The endpoint serves on its Ray cluster, not in this process (``answer``
    forwards its invocations there)."""


class UnknownEndpoint(Exception):
    """No endpoint by that name (404)."""


class TimedOut(Exception):
    """The model did not answer within ``REGISTRY_INVOCATION_TIMEOUT`` (503)."""

    def __init__(self, seconds: float):
        super().__init__(
            f"The model did not answer within {seconds:g} s "
            "(REGISTRY_INVOCATION_TIMEOUT); the run was stopped."
        )


@dataclass
class Live:
    version_id: int
    version_number: int
    predictor: Predictor
    # A fixed input shape declared in the version's input_schema, if any.
    schema_shape: list[int | None] | None = None
    # The outputs the warm-up call answered: name -> (numpy dtype kind, shape).
    outputs: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    loaded_at: float = 0.0
    size: int = 0  # the artifact's bytes: what REGISTRY_SERVING_MAX_BYTES counts


@dataclass
class Failure:
    message: str
    attempts: int
    retry_at: float


@dataclass
class _State:
    name: str = ""
    checked_at: float = 0.0
    live_version_id: int | None = None
    message: str = ""
    target: str = Target.BUILTIN
    live: Live | None = None
    loading: int | None = None
    failed: dict[int, Failure] = field(default_factory=dict)
    # Unloaded to keep within REGISTRY_SERVING_MAX_MODELS / _BYTES: loads on demand.
    evicted: bool = False

    def may_try(self, version_id: int) -> bool:
        """Not failed, or failed long enough ago to try again (backoff)."""
        failure = self.failed.get(version_id)
        return failure is None or failure.retry_at <= time.monotonic()


_states: dict[str, _State] = {}
# Endpoints with a loaded model, least recently used first.
_loaded: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()
# A failed load is tried again after 1 s, doubling up to 60 s.
RETRY_FIRST, RETRY_MAX = 1.0, 60.0


def _load(version: ModelVersion) -> Live:
    # The deployment verified it before the switch; the process that loads it
    # checks again that it loads bytes a signed, unrevoked approval names.
    attestations.attestation_verify(version)
    with backends.verified_artifact(version) as path:
        predictor = isolated_serving.load(path, version.artifact_format)
    declared = declared_shape(version.input_schema)
    inputs = warm_up_inputs(predictor, version.sample_payload, declared)
    answered = predictor.predict(predictor.coerce(inputs))
    return Live(
        version.pk,
        version.version,
        predictor,
        declared,
        outputs={name: _described(value) for name, value in answered.items()},
        loaded_at=time.time(),
        size=version.artifact_size,
    )


def _described(value: Any) -> tuple[str, list[int]]:
    """An output's dtype kind and shape, the batch dimension free (-1)."""
    array = np.asarray(value)
    kind = array.dtype.kind if array.dtype.kind in "biuf" else "O"
    shape = [-1, *array.shape[1:]] if array.ndim else [-1]
    return f"{kind}{array.dtype.itemsize}" if kind != "O" else "O", shape


def _load_into(state: _State, version_id: int) -> None:
    global lookups
    lookups += 1
    try:
        version = ModelVersion.objects.get(pk=version_id)
        live = _load(version)
    except Exception as exc:
        log.exception("serving: loading version %s failed", version_id)
        with _lock:
            before = state.failed.get(version_id)
            attempts = before.attempts + 1 if before else 1
            delay = min(RETRY_FIRST * 2 ** (attempts - 1), RETRY_MAX)
            state.failed[version_id] = Failure(
                f"{type(exc).__name__}: {exc}", attempts, time.monotonic() + delay
            )
            state.loading = None
        return
    with _lock:
        state.failed.pop(version_id, None)
        if state.live_version_id == version_id:
            state.live, state.evicted = live, False
            _loaded[state.name] = None
            _loaded.move_to_end(state.name)
            _evict(keep=state)
        state.loading = None


def _evict(*, keep: _State) -> None:
    """Unload the least recently used models until this process holds at most
    REGISTRY_SERVING_MAX_MODELS and REGISTRY_SERVING_MAX_BYTES (``keep``, just
    loaded, stays). Called with ``_lock`` held."""
    most = settings.REGISTRY_SERVING_MAX_MODELS
    budget = settings.REGISTRY_SERVING_MAX_BYTES
    held: dict[str, Live] = {}
    for name in list(_loaded):
        state = _states.get(name)
        if state is None or state.live is None:
            del _loaded[name]
        else:
            held[name] = state.live
    total = sum(live.size for live in held.values())
    for name, live in held.items():
        if not (most and len(_loaded) > most) and not (budget and total > budget):
            return
        state = _states[name]
        if state is keep:
            continue
        total -= live.size
        # Requests holding the model finish with it; the next one loads it again.
        state.live, state.evicted = None, True
        del _loaded[name]
        log.info("serving: unloaded %s (least recently used)", name)


# Database look-ups made by this module in this process: the fast path closes
# connections after a request only when it made one.
lookups = 0


def _refresh(name: str, state: _State) -> None:
    global lookups
    lookups += 1
    row = (
        Endpoint.objects.filter(name=name)
        .values("live_version_id", "serving_message", "target")
        .first()
    )
    if row is None:
        with _lock:
            _states.pop(name, None)
            _loaded.pop(name, None)
        raise UnknownEndpoint(name)
    with _lock:
        state.checked_at = time.monotonic()
        state.live_version_id = row["live_version_id"]
        state.message = row["serving_message"]
        state.target = row["target"]
        if state.live_version_id is None:
            state.live = None
        wanted = state.live_version_id
        start_background = (
            wanted is not None
            and state.live is not None
            and state.live.version_id != wanted
            and state.loading is None
            and state.may_try(wanted)
        )
        if start_background:
            state.loading = wanted
    if start_background:
        threading.Thread(
            target=_load_into,
            args=(state, wanted),
            daemon=True,
            name=f"serving-load-{name}",
        ).start()


def live_model(name: str) -> Live:
    """The model that answers for endpoint ``name`` in this process right now."""
    state = _states.get(name)
    if state is None:
        with _lock:
            state = _states.setdefault(name, _State(name=name))
    if time.monotonic() - state.checked_at > settings.REGISTRY_SERVING_REFRESH:
        _refresh(name, state)
    if state.target == Target.RAY:
        raise OnRay(f"{name} serves on its Ray cluster, not in this process.")
    if state.target != Target.BUILTIN:
        raise NotServing(
            f"{name} deploys to an external system; it does not serve here."
        )
    if state.live_version_id is None:
        raise NotServing(state.message or f"{name} has no deployed version yet.")
    if state.live is not None and state.live.predictor.stopped:
        _drop_stopped(state)
    if state.live is None:
        # First request after start or after a stop: load in the request, once.
        with _lock:
            first_loader = state.loading is None and state.may_try(
                state.live_version_id
            )
            if first_loader:
                state.loading = state.live_version_id
        if first_loader:
            _load_into(state, state.live_version_id)
        else:
            _wait_for_load(state)
    live = state.live
    if live is None:
        failure = state.failed.get(state.live_version_id or 0)
        error = failure.message if failure else "the model is loading"
        raise NotServing(f"{name} cannot serve its live version: {error}")
    with suppress(KeyError):  # unloaded meanwhile: this request still has it
        _loaded.move_to_end(name)
    return live


def _drop_stopped(state: _State) -> None:
    """Forget a model whose process stopped (it died, or a run over the time limit
    stopped it), so this request loads it again, with the backoff of any load."""
    with _lock:
        live = state.live
        if live is None or not live.predictor.stopped:
            return
        log.warning(
            "serving: the model process of %s v%s stopped; loading it again",
            state.name,
            live.version_number,
        )
        state.live = None
        _loaded.pop(state.name, None)


def _wait_for_load(state: _State, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (
        state.live is None and state.loading is not None and time.monotonic() < deadline
    ):
        time.sleep(0.01)


def predict(name: str, inputs: Any) -> tuple[Live, dict[str, Any]]:
    """Run ``inputs`` through the endpoint's live model; raises InputError on bad input."""
    live = live_model(name)
    outputs = run(live, inputs)
    return live, {k: jsonable(v) for k, v in outputs.items()}


def answer(name: str, inputs: Any) -> tuple[int, dict[str, Any]]:
    """An invocation of endpoint ``name`` as every face answers it: the version that
    answered, and ``{"predictions", "model_version", "outputs"}``. A built-in
    endpoint predicts in this process; a ``ray`` endpoint's live version answers on
    its cluster, with the same bound on inputs and time. Raises UnknownEndpoint,
    NotServing, TimedOut and InputError (bad input)."""
    try:
        live, outputs = predict(name, inputs)
    except OnRay:
        return _answer_on_ray(name, inputs)
    first = next(iter(outputs.values()))
    number = live.version_number
    return number, {"predictions": first, "model_version": number, "outputs": outputs}


def _on_ray(name: str) -> Endpoint:
    """The ``ray`` endpoint ``name`` with its live version."""
    endpoint = Endpoint.objects.select_related("live_version").filter(name=name).first()
    if endpoint is None:
        raise UnknownEndpoint(name)
    if endpoint.live_version is None:
        raise NotServing(
            endpoint.serving_message or f"{name} has no deployed version yet."
        )
    return endpoint


def _ask_ray(name: str, call: Any) -> tuple[int, Any]:
    try:
        answered: tuple[int, Any] = call()
    except backends.TransientError as exc:
        raise NotServing(f"{name}'s Ray cluster did not answer: {exc}") from exc
    except backends.PermanentError as exc:
        raise NotServing(f"{name}'s Ray cluster cannot be called: {exc}") from exc
    return answered


def _answer_on_ray(name: str, inputs: Any) -> tuple[int, dict[str, Any]]:
    from deployments.services import ray_target

    check_elements(count_values(inputs, settings.REGISTRY_INVOCATION_MAX_ELEMENTS))
    endpoint = _on_ray(name)
    code, body = _ask_ray(name, lambda: ray_target.forward(endpoint, inputs))
    if code == 400 and isinstance(body, dict):
        raise InputError(str((body.get("error") or {}).get("message", body)))
    if code != 200 or not isinstance(body, dict):
        raise NotServing(f"{name}'s Ray application answered {code}.")
    number = body.get("model_version", endpoint.live_version.version)  # type: ignore[union-attr]
    return int(number), body


# What each Ray endpoint's live version said it takes and answers, by (endpoint,
# version): asked again after a minute.
_ray_models: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}
DESCRIBED_FOR = 60.0


def ray_model(name: str) -> tuple[int, dict[str, Any]]:
    """The live version of ``ray`` endpoint ``name`` and what its replicas say it
    takes and answers (``{"platform", "inputs", "outputs"}``, the Open Inference
    Protocol's metadata). Raises UnknownEndpoint and NotServing."""
    from deployments.services import ray_target

    endpoint = _on_ray(name)
    number = endpoint.live_version.version  # type: ignore[union-attr]
    hit = _ray_models.get((name, number))
    if hit is not None and hit[0] > time.monotonic():
        return number, hit[1]
    code, body = _ask_ray(name, lambda: ray_target.describe(endpoint))
    model = body.get("model") if isinstance(body, dict) else None
    if code != 200 or not isinstance(model, dict):
        raise NotServing(
            f"{name}'s Ray application did not describe its model ({code})."
        )
    _ray_models[(name, number)] = (time.monotonic() + DESCRIBED_FOR, model)
    return number, model


def run(live: Live, inputs: Any) -> dict[str, Any]:
    """``live``'s raw outputs for JSON ``inputs``; raises InputError on bad input
    (more than REGISTRY_INVOCATION_MAX_ELEMENTS values among them) and TimedOut
    when the model takes longer than REGISTRY_INVOCATION_TIMEOUT."""
    check_elements(count_values(inputs, settings.REGISTRY_INVOCATION_MAX_ELEMENTS))
    batch = live.predictor.coerce(inputs)
    check_shape(batch, live.schema_shape, "the version's input_schema")
    timeout = settings.REGISTRY_INVOCATION_TIMEOUT or None
    try:
        return live.predictor.predict(batch, timeout=timeout)
    except PredictTimeout as exc:
        raise TimedOut(exc.seconds) from exc
    except LoadError as exc:  # the model's process failed or died under this call
        again = " it loads again on the next request." if live.predictor.stopped else ""
        raise NotServing(f"the model could not answer: {exc}.{again}") from exc


def check_elements(count: int) -> None:
    """Raise InputError when an input holds more values than an invocation may."""
    limit = settings.REGISTRY_INVOCATION_MAX_ELEMENTS
    if count > limit:
        raise InputError(
            f"inputs: more than {limit} values; an invocation takes at most "
            f"{limit} (REGISTRY_INVOCATION_MAX_ELEMENTS)"
        )


def recheck_all() -> None:
    """Something changed (the bell rang): look up every endpoint this process serves
    again now, starting the loads of new live versions in the background."""
    try:
        for name, state in list(_states.items()):
            try:
                _refresh(name, state)
            except UnknownEndpoint:
                continue
    finally:
        close_old_connections()


def process_status() -> dict[str, Any]:
    """What this process serves: per endpoint the live pointer it last saw, the
    version it answers with, a load under way and failed loads."""
    endpoints: dict[str, Any] = {}
    for name, state in list(_states.items()):
        live = state.live
        endpoints[name] = {
            "live_version_id": state.live_version_id,
            "serving_version": live.version_number if live else None,
            "serving_version_id": live.version_id if live else None,
            "loaded_at": live.loaded_at if live else None,
            "loading_version_id": state.loading,
            # Unloaded to bound memory (least recently used): not an error.
            "evicted": state.evicted and live is None,
            "failed": {
                str(vid): {"message": f.message, "attempts": f.attempts}
                for vid, f in state.failed.items()
            },
        }
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "at": time.time(),
        "endpoints": endpoints,
    }


def _status_folder() -> Path:
    return Path(settings.DATA_DIR) / "serving" / "processes"


def report_status() -> None:
    """Write what this process serves where ``processes()`` (``/readyz``, the
    endpoint page) reads it."""
    status = process_status()
    if not status["endpoints"]:
        return
    folder = _status_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{status['host']}-{status['pid']}.json"
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(status))
    partial.replace(path)


def processes() -> list[dict[str, Any]]:
    """The serving processes of this machine that reported recently."""
    stale = 3 * settings.REGISTRY_SERVING_STATUS_INTERVAL + 1
    found = []
    for path in sorted(_status_folder().glob("*.json")):
        try:
            status = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if time.time() - float(status.get("at", 0)) <= stale:
            found.append(status)
        else:
            path.unlink(missing_ok=True)
    return found


def forget() -> None:
    """Drop every loaded model (tests, and after settings change)."""
    with _lock:
        _states.clear()
        _loaded.clear()


def loaded_count() -> int:
    """How many models this process holds loaded."""
    return sum(1 for state in list(_states.values()) if state.live is not None)
