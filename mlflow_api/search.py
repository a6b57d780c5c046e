"""MLflow's search grammar, parsed into ``catalog.selectors.Condition``s.

``filter_string`` is clauses joined by ``AND``: ``name = 'iris'``,
``tags.team LIKE 'ml-%'``, ``tags.`a key` != 'x'``, ``version_number >= 3``,
``run_id IN ('a', 'b')``. ``order_by`` entries are ``<field> [ASC|DESC]``;
``page_token`` is the opaque offset this module made for the previous page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from catalog.selectors import Condition
from mlflow_api.errors import invalid

TOKEN_RE = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
    | (?P<backtick>`[^`]*`)
    | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
WORD_OPS = {"LIKE", "ILIKE", "IN"}
TAG_PREFIXES = {"tags", "tag"}
ATTRIBUTE_PREFIXES = {"attribute", "attributes", "attr"}
STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"}


@dataclass(frozen=True)
class Field:
    """A searchable attribute: the selector's name for it, its type, its operators."""

    column: str
    number: bool = False
    ops: frozenset[str] = frozenset(STRING_OPS)


MODEL_FIELDS = {"name": Field("name", ops=frozenset({"=", "!=", "LIKE", "ILIKE"}))}
VERSION_FIELDS = {
    "name": Field("name"),
    "version_number": Field("version", number=True, ops=frozenset(NUMBER_OPS)),
    "run_id": Field("run_id", ops=frozenset({"=", "!=", "IN", "NOT IN"})),
    "source_path": Field("source_uri", ops=frozenset({"=", "!=", "LIKE", "ILIKE"})),
}
TAG_FIELD = Field("tag", ops=frozenset({"=", "!=", "LIKE", "ILIKE"}))

MODEL_ORDER = {
    "name": "name",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
    "timestamp": "updated_at",
}
VERSION_ORDER = {
    "name": "name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
    "timestamp": "updated_at",
    "run_id": "run_id",
}


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            raise invalid(
                f"Invalid filter {text!r}: unexpected text at {text[position:][:20]!r}."
            )
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def _unquote(token: str) -> str:
    quote, body = token[0], token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body) if quote != "`" else body


class _Parser:
    def __init__(self, text: str, fields: dict[str, Field]):
        self.text, self.fields = text, fields
        self.tokens = _tokens(text)
        self.at = 0

    def fail(self, why: str) -> Exception:
        return invalid(f"Invalid filter {self.text!r}: {why}")

    def next(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise self.fail("it ends too early.")
        self.at += 1
        return self.tokens[self.at - 1]

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def conditions(self) -> list[Condition]:
        found = [self.clause()]
        while self.peek() is not None:
            kind, word = self.next()
            if kind != "word" or word.upper() != "AND":
                raise self.fail(
                    f"expected AND, found {word!r} (only AND is supported)."
                )
            found.append(self.clause())
        return found

    def key(self) -> tuple[str, Field]:
        kind, word = self.next()
        if kind == "backtick" or kind == "string":
            word = _unquote(word)  # `tags.key` or "name" quoted whole
        elif kind != "word":
            raise self.fail(f"expected a field name, found {word!r}.")
        prefix, dot, rest = word.partition(".")
        if dot and not rest:  # tags.`a key` / tags."a key"
            quoted = self.peek()
            if quoted is None or quoted[0] not in ("backtick", "string"):
                raise self.fail(f"a name must follow {word!r}.")
            rest = _unquote(self.next()[1])
        if dot and prefix.lower() in TAG_PREFIXES:
            return f"tag:{rest}", TAG_FIELD
        name = rest if dot and prefix.lower() in ATTRIBUTE_PREFIXES else word
        if dot and prefix.lower() not in ATTRIBUTE_PREFIXES:
            raise self.fail(f"unknown field {word!r}.")
        if name not in self.fields:
            known = ", ".join([*self.fields, "tags.<key>"])
            raise self.fail(f"unknown field {name!r}; use {known}.")
        return self.fields[name].column, self.fields[name]

    def operator(self) -> str:
        kind, word = self.next()
        if kind == "op":
            return word
        upper = word.upper() if kind == "word" else ""
        if upper == "NOT":
            kind, word = self.next()
            if kind == "word" and word.upper() == "IN":
                return "NOT IN"
        if upper in WORD_OPS:
            return upper
        raise self.fail(f"expected a comparison, found {word!r}.")

    def value(self, field: Field) -> Any:
        kind, word = self.next()
        if field.number:
            if kind != "number" and not (kind == "string" and _is_int(_unquote(word))):
                raise self.fail(f"expected a number, found {word!r}.")
            number = _unquote(word) if kind == "string" else word
            if not _is_int(number):
                raise self.fail(f"expected a whole number, found {word!r}.")
            return int(number)
        if kind != "string":
            raise self.fail(f"expected a quoted string, found {word!r}.")
        return _unquote(word)

    def values(self, field: Field) -> list[Any]:
        if self.next() != ("punct", "("):
            raise self.fail("IN needs a parenthesised list.")
        found = [self.value(field)]
        while True:
            kind, word = self.next()
            if (kind, word) == ("punct", ")"):
                return found
            if (kind, word) != ("punct", ","):
                raise self.fail(f"expected , or ) in a list, found {word!r}.")
            found.append(self.value(field))

    def clause(self) -> Condition:
        column, field = self.key()
        op = self.operator()
        if op not in field.ops:
            raise self.fail(f"{op} cannot be used with this field.")
        if op in ("IN", "NOT IN"):
            return Condition(column, op, self.values(field))
        return Condition(column, op, self.value(field))


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d{1,18}", text))


def conditions(text: Any, *, versions: bool) -> list[Condition]:
    """The conditions of a filter string ("" or None: no condition)."""
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise invalid("filter must be a string.")
    return _Parser(text, VERSION_FIELDS if versions else MODEL_FIELDS).conditions()


def ordering(values: Iterable[Any], *, versions: bool) -> list[tuple[str, bool]]:
    """``order_by`` entries as (selector field, descending) pairs."""
    fields = VERSION_ORDER if versions else MODEL_ORDER
    found: list[tuple[str, bool]] = []
    for value in values:
        if not isinstance(value, str):
            raise invalid("order_by entries must be strings.")
        parts = value.split()
        if not parts or len(parts) > 2:
            raise invalid(f"Invalid order_by clause {value!r}.")
        name = parts[0].removeprefix("attribute.").strip("`")
        direction = parts[1].upper() if len(parts) == 2 else "ASC"
        if name not in fields or direction not in ("ASC", "DESC"):
            known = ", ".join(fields)
            raise invalid(
                f"Invalid order_by clause {value!r}: use <field> [ASC|DESC] with "
                f"field one of {known}."
            )
        found.append((fields[name], direction == "DESC"))
    return found


def page_offset(token: Any) -> int:
    if token in (None, ""):
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = data["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError) as exc:
        raise invalid("Invalid page_token.") from exc
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise invalid("Invalid page_token.")
    return offset


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def max_results(value: Any, *, default: int, limit: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise invalid("max_results must be a whole number.") from exc
    if isinstance(value, bool) or number < 1 or number > limit:
        raise invalid(f"max_results must be between 1 and {limit}.")
    return number
