"""Deployments' use of the model-format package, with the site's settings passed in.

Loading, warming and predicting live in ``modelformats``; this module only says
what the settings are (the skops trust list, the loader's time and memory limits).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

import modelformats
from modelformats import InputError, LoadError, Predictor, declared_shape

__all__ = [
    "InputError",
    "LoadError",
    "Predictor",
    "check_isolated",
    "declared_shape",
    "load",
    "trust",
]


def trust() -> modelformats.Trust:
    """The site's trust: extra skops types. A stored version's format was already
    accepted under its group's pickle policy, so a load does not ask again."""
    return modelformats.Trust(skops_types=settings.REGISTRY_SKOPS_TRUSTED_TYPES)


def load(path: str, fmt: str) -> Predictor:
    """Load in this process a model that already passed ``check_isolated``."""
    return modelformats.load(path, fmt, trust=trust())


def check_isolated(
    path: str, fmt: str, payload: Any, *, declared: list[int | None] | None = None
) -> dict[str, Any]:
    """Load and warm the model in a limited child process; raises ``LoadError``."""
    return modelformats.load_and_warm_isolated(
        path,
        fmt,
        trust=trust(),
        payload=payload,
        declared=declared,
        timeout=settings.REGISTRY_LOADER_TIMEOUT,
        memory=settings.REGISTRY_LOADER_MEMORY,
    )
