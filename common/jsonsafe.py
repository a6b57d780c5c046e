"""JSON from clients, parsed with a depth limit: bad or hostile input is a 400.

Python's parser raises ``RecursionError`` on deeply nested input (a 500 if it
escapes), and a document nested a few hundred levels deep parses but then breaks
whatever walks it. Every JSON the registry reads from a client goes through here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from common.errors import Invalid

MAX_DEPTH = 64


class JSONInputError(ValueError):
    """The text is not JSON, or is nested deeper than ``MAX_DEPTH``.

    ``str()`` is a short message for a field; ``detail`` says where the parser stopped.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def depth_exceeded(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if ``value`` nests lists/objects more than ``limit`` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False


def loads(text: str | bytes) -> Any:
    """Parse JSON text; raises ``JSONInputError`` with a message fit for a client."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise JSONInputError(f"Nested more than {MAX_DEPTH} levels deep.") from exc
    except (ValueError, TypeError) as exc:
        raise JSONInputError("Not valid JSON.", str(exc)) from exc
    if depth_exceeded(value):
        raise JSONInputError(f"Nested more than {MAX_DEPTH} levels deep.")
    return value


def field_loads(text: str | bytes, field: str) -> Any:
    """``loads`` for one named input field: a 400 naming the field."""
    try:
        return loads(text)
    except JSONInputError as exc:
        detail = f" ({exc.detail})" if exc.detail else ""
        raise Invalid(f"{field}: {exc}{detail}", fields={field: str(exc)}) from exc


def check_depth(value: Any, field: str) -> Any:
    """A 400 naming ``field`` if an already parsed value nests too deeply."""
    if depth_exceeded(value):
        message = f"Nested more than {MAX_DEPTH} levels deep."
        raise Invalid.on(field, message)
    return value


class SafeJSONParser(JSONParser):
    """DRF's JSON parser with the depth limit."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        try:
            raw = stream.read() if stream is not None else b""
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if not text.strip():
            raise ParseError("JSON parse error - the body is empty.")
        try:
            return loads(text)
        except JSONInputError as exc:
            detail = f" ({exc.detail})" if exc.detail else ""
            raise ParseError(f"JSON parse error - {exc}{detail}") from exc


class SafeJSONFormField(forms.JSONField):
    """A form's JSON field with the depth limit."""

    def to_python(self, value: Any) -> Any:
        try:
            parsed = super().to_python(value)
        except RecursionError as exc:
            raise forms.ValidationError(
                f"Nested more than {MAX_DEPTH} levels deep.", code="invalid"
            ) from exc
        if depth_exceeded(parsed):
            raise forms.ValidationError(
                f"Nested more than {MAX_DEPTH} levels deep.", code="invalid"
            )
        return parsed

    def bound_data(self, data: Any, initial: Any) -> Any:
        """Re-showing what was typed must not parse it without the limit either."""
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)
