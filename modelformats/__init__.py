"""Model files, decided from the bytes and never from the file name: sniff, check,
load, predict, and the limited child process that does the risky part.

No Django here, and nothing read from the environment: callers pass what their
settings say (a ``Trust``, time and memory limits). The catalog accepts uploads
with ``inspect`` (``inspect_isolated`` for large files; for very large ones only
``identify`` while the client waits, the whole check later in a task); deployments load with
``load_and_warm_isolated`` first, then serving keeps ``load``'s ``Predictor`` in
memory and calls ``coerce``, ``check_shape``, ``predict`` and ``jsonable`` per
request.

Modules: ``base`` (the ``Format`` interface, ``Trust``, errors), ``formats`` (every
format and the ``FORMATS`` registry), ``predictor`` (``Predictor``, ``InputSpec``,
input checks, JSON conversion), ``checks`` (in-process inspect, load, warm-up),
``isolated`` and ``sandbox`` (the same in a child process), ``storage`` (a stored
artifact as a verified local file).

Adding a format, for example safetensors, touches ``modelformats/formats.py`` and
its tests, nothing else: in ``formats.py`` give the ``Safetensors`` class (today
recognised and refused) a real ``check(path, *, trust)`` that raises
``ArtifactRefused`` for a file it does not accept, and a ``load(path, *, trust)``
returning a ``Predictor`` subclass (with its ``spec`` and ``predict``) written
beside it; its place in ``FORMATS`` decides the sniffing order. Tests go in
``tests/modelformats/test_formats.py`` (sniff, check, refusals) and
``tests/modelformats/test_checks.py`` (load and warm-up). The catalog, the
deployment loader and serving pick the format up by name with no change.
"""

from modelformats.base import ArtifactRefused, Format, LoadError, Trust
from modelformats.checks import (
    identify,
    inspect,
    load,
    load_and_warm,
    warm_up_inputs,
)
from modelformats.formats import FORMATS, HEAD_SIZE, by_name, detect
from modelformats.isolated import (
    inspect_isolated,
    load_and_warm_isolated,
    predict_isolated,
)
from modelformats.predictor import (
    InputError,
    InputSpec,
    Predictor,
    PredictTimeout,
    check_shape,
    count_values,
    declared_shape,
    jsonable,
)

__all__ = [
    "FORMATS",
    "HEAD_SIZE",
    "ArtifactRefused",
    "Format",
    "InputError",
    "InputSpec",
    "LoadError",
    "PredictTimeout",
    "Predictor",
    "Trust",
    "by_name",
    "check_shape",
    "count_values",
    "declared_shape",
    "detect",
    "identify",
    "inspect",
    "inspect_isolated",
    "jsonable",
    "load",
    "load_and_warm",
    "load_and_warm_isolated",
    "predict_isolated",
    "warm_up_inputs",
]
