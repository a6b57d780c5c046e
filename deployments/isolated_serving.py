"""Which models a web process may load itself, and a limited child for the rest.

A model the registry does not trust as data (a pickle-based file, accepted only in a
group whose admin allowed pickle) runs code when it is loaded, so a web or serving
process never loads it: it starts a long-lived limited child per such model
(``modelformats.served``) and forwards each invocation to it over a pipe. So does a
format listed in ``REGISTRY_SERVING_CHILD_FORMATS`` (skops by default), so that its
calls can be stopped at the time limit. ONNX is loaded in the process (onnxruntime
stops a run itself).

At startup (``DeploymentsConfig.ready``) a process logs what protects its model
children on this machine: a warning where Landlock is missing and only resource
limits and a bare environment remain.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from deployments import loader
from modelformats import Predictor, by_name, confine
from modelformats.formats import Pickle
from modelformats.served import ChildPredictor

log = logging.getLogger(__name__)
_warned = threading.Event()


def trusted_as_data(fmt: str) -> bool:
    """False for the formats whose loading runs the file's code (pickle, joblib)."""
    return not isinstance(by_name(fmt), Pickle)


def in_child(fmt: str) -> bool:
    """Whether a serving process answers with a model of format ``fmt`` through a
    limited child: always for those that are not data, and for the formats in
    ``REGISTRY_SERVING_CHILD_FORMATS`` (skops by default: a scikit-learn call cannot
    be stopped in the process, a child is killed at the invocation's time limit)."""
    return not trusted_as_data(fmt) or fmt in settings.REGISTRY_SERVING_CHILD_FORMATS


def load(path: str, fmt: str) -> Predictor:
    """The model at ``path``, loaded here when it is data, else in a limited child
    (the child reads the file before this returns; ``path`` may go afterwards)."""
    if not in_child(fmt):
        return loader.load(path, fmt)
    return ChildPredictor(
        path,
        fmt,
        trust=loader.trust(),
        memory=settings.REGISTRY_LOADER_MEMORY,
        timeout=settings.REGISTRY_LOADER_TIMEOUT,
    )


def announce() -> None:
    """Confine model children as ``REGISTRY_SANDBOX`` says, refusing to start where
    that method is not available, and log once per process what protects them: a
    warning where nothing does."""
    confine.choose(settings.REGISTRY_SANDBOX)
    if not confine.usable(confine.method()):
        raise ImproperlyConfigured(
            f"REGISTRY_SANDBOX={settings.REGISTRY_SANDBOX}: that confinement is not "
            "available on this machine (see docs/isolation.md)"
        )
    if _warned.is_set():
        return
    _warned.set()
    if confine.method() != "none":
        log.debug("model child isolation: %s", confine.describe())
    else:
        log.warning("model child isolation: %s", confine.describe())
