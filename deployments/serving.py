"""In-process model serving for built-in endpoints.

Each web process keeps ``(version id, loaded model)`` per endpoint. It looks up the
endpoint's live version at most every ``REGISTRY_SERVING_REFRESH`` seconds. When the
pointer moves, a background thread verifies, loads and warms the new model while
requests keep using the old one; then the reference is swapped, so no request fails
during a switch. The first load of an endpoint happens in the request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from catalog import attestations
from catalog.models import ModelVersion
from deployments import backends, loader
from deployments.models import Endpoint, Target
from modelformats import (
    Predictor,
    check_shape,
    declared_shape,
    jsonable,
    warm_up_inputs,
)

log = logging.getLogger(__name__)


class NotServing(Exception):
    """The endpoint has no live model to answer with (503)."""


class UnknownEndpoint(Exception):
    """No endpoint by that name (404)."""


@dataclass
class Live:
    version_id: int
    version_number: int
    predictor: Predictor
    # A fixed input shape declared in the version's input_schema, if any.
    schema_shape: list[int | None] | None = None


@dataclass
class _State:
    checked_at: float = 0.0
    live_version_id: int | None = None
    message: str = ""
    target: str = Target.BUILTIN
    live: Live | None = None
    loading: int | None = None
    failed: dict[int, str] = field(default_factory=dict)


_states: dict[str, _State] = {}
_lock = threading.Lock()


def _load(version: ModelVersion) -> Live:
    # The deployment verified it before the switch; the process that loads it
    # checks again that it loads bytes a signed, unrevoked approval names.
    attestations.attestation_verify(version)
    with backends.verified_artifact(version) as path:
        predictor = loader.load(path, version.artifact_format)
    declared = declared_shape(version.input_schema)
    inputs = warm_up_inputs(predictor, version.sample_payload, declared)
    predictor.predict(predictor.coerce(inputs))
    return Live(
        version.pk,
        version.version,
        predictor,
        declared,
    )


def _load_into(state: _State, version_id: int) -> None:
    try:
        version = ModelVersion.objects.get(pk=version_id)
        live = _load(version)
    except Exception as exc:
        log.exception("serving: loading version %s failed", version_id)
        with _lock:
            state.failed[version_id] = f"{type(exc).__name__}: {exc}"
            state.loading = None
        return
    with _lock:
        if state.live_version_id == version_id:
            state.live = live
        state.loading = None


def _refresh(name: str, state: _State) -> None:
    row = (
        Endpoint.objects.filter(name=name)
        .values("live_version_id", "serving_message", "target")
        .first()
    )
    if row is None:
        with _lock:
            _states.pop(name, None)
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
            and wanted not in state.failed
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
            state = _states.setdefault(name, _State())
    if time.monotonic() - state.checked_at > settings.REGISTRY_SERVING_REFRESH:
        _refresh(name, state)
    if state.target != Target.BUILTIN:
        raise NotServing(
            f"{name} deploys to an external system; it does not serve here."
        )
    if state.live_version_id is None:
        raise NotServing(state.message or f"{name} has no deployed version yet.")
    if state.live is None:
        # First request after start or after a stop: load in the request, once.
        with _lock:
            first_loader = state.loading is None
            if first_loader:
                state.loading = state.live_version_id
        if first_loader:
            _load_into(state, state.live_version_id)
        else:
            _wait_for_load(state)
    if state.live is None:
        error = state.failed.get(state.live_version_id or 0, "the model is loading")
        raise NotServing(f"{name} cannot serve its live version: {error}")
    return state.live


def _wait_for_load(state: _State, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (
        state.live is None and state.loading is not None and time.monotonic() < deadline
    ):
        time.sleep(0.01)


def predict(name: str, inputs: Any) -> tuple[Live, dict[str, Any]]:
    """Run ``inputs`` through the endpoint's live model; raises InputError on bad input."""
    live = live_model(name)
    batch = live.predictor.coerce(inputs)
    check_shape(batch, live.schema_shape, "the version's input_schema")
    outputs = live.predictor.predict(batch)
    return live, {k: jsonable(v) for k, v in outputs.items()}


def forget() -> None:
    """Drop every loaded model (tests, and after settings change)."""
    with _lock:
        _states.clear()
