"""The interface every model format implements, and what callers trust."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from modelformats.predictor import Predictor


class ArtifactRefused(Exception):
    """The bytes are not a model the registry accepts; the message says what was found."""

    def __init__(self, message: str, *, detected: str | None = None):
        super().__init__(message)
        self.message = message
        self.detected = detected


class LoadError(RuntimeError):
    """The model could not be loaded or did not answer its warm-up."""


@dataclass(frozen=True)
class Trust:
    """What the caller trusts beyond the safe defaults, from its own settings.

    ``pickle``: the group allows pickle-based files. It is asked when a file is
    accepted; a stored version's format was accepted under it, so a load does not
    ask again. ``skops_types``: types a skops file may name on top of skops' own
    trusted types and ``SKOPS_EXTRA_TRUSTED``.
    """

    pickle: bool = False
    skops_types: Collection[str] = ()

    def as_json(self) -> dict[str, Any]:
        return {"pickle": self.pickle, "skops_types": sorted(self.skops_types)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trust:
        return cls(bool(data.get("pickle")), tuple(data.get("skops_types") or ()))


class Format:
    """A model format: recognised from its first bytes, checked whole, loaded.

    ``check`` raises ``ArtifactRefused`` when the file is not acceptable under
    ``trust``; ``load`` returns a ``Predictor`` for a file that passed ``check``.
    """

    name: str = ""
    label: str = ""

    def sniff(self, head: bytes) -> bool:
        raise NotImplementedError

    def admit(self, trust: Trust) -> None:
        """The decision the format alone settles, before reading the file (pickle
        without trust is refused): cheap enough to take while a client waits."""

    def check(self, path: str, *, trust: Trust) -> None:
        raise NotImplementedError

    def load(self, path: str, *, trust: Trust) -> Predictor:
        raise LoadError(f"no loader for format {self.name!r}")
