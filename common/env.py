"""Small typed readers for environment variables that fail loudly on bad values.

Every reader also accepts ``<NAME>_FILE``: the value is then read from that file,
so secrets can come from mounted files instead of the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class ConfigError(RuntimeError):
    """A configuration value is present but cannot be used."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def raw(name: str) -> str | None:
    """The variable's value, or the content of the file named by ``<name>_FILE``."""
    value = os.environ.get(name)
    if value is not None:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return None


def string(name: str, default: str = "") -> str:
    value = raw(name)
    return default if value is None else value


def boolean(name: str, default: bool = False) -> bool:
    value = raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean (use true/false, 1/0)")


def integer(name: str, default: int, *, minimum: int | None = None) -> int:
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not an integer") from exc
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={number} must be at least {minimum}")
    return number


def number(name: str, default: float, *, minimum: float | None = None) -> float:
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        result = float(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a number") from exc
    if result != result or (minimum is not None and result < minimum):
        raise ConfigError(f"{name}={value!r} must be a number of at least {minimum}")
    return result


def size(name: str, default: int) -> int:
    """A byte size such as ``2147483648``, ``512MiB`` or ``2GiB``."""
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    units = [
        ("kib", 1024),
        ("mib", 1024**2),
        ("gib", 1024**3),
        ("kb", 1000),
        ("mb", 1000**2),
        ("gb", 1000**3),
        ("b", 1),
    ]
    text = value.strip().lower()
    factor = next((f for suffix, f in units if text.endswith(suffix)), 1)
    suffix_len = next((len(suffix) for suffix, _ in units if text.endswith(suffix)), 0)
    number = text[: len(text) - suffix_len].strip()
    try:
        result = int(float(number) * factor)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a size (e.g. 2GiB)") from exc
    if result <= 0:
        raise ConfigError(f"{name}={value!r} must be positive")
    return result


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return lowered


def strings(name: str, default: list[str]) -> list[str]:
    value = raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def database(url: str, *, sqlite_default: Path) -> dict:
    """Django's DATABASES entry for a ``sqlite:///path`` or ``postgres://`` URL."""
    if not url:
        url = f"sqlite:///{sqlite_default}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:////abs/path is absolute; sqlite:///rel/path is relative.
        path = "/" + path.lstrip("/") if url.startswith("sqlite:////") else path[1:]
        if not path:
            raise ConfigError("DATABASE_URL=sqlite:// needs a file path")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue
            # on the busy timeout instead of failing with "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        query = dict(parse_qsl(parts.query))
        options: dict[str, object] = {
            "connect_timeout": int(query.pop("connect_timeout", "5"))
        }
        options.update(query)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "registry",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": integer("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ConfigError(
        f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:/// or postgres://)"
    )
