"""Real services the tests need (Redis), checked when a test asks, not at import."""

from __future__ import annotations

import functools
import socket
from urllib.parse import urlsplit


@functools.cache
def reachable(url: str) -> bool:
    """True if something answers on the URL's host and port (0.5 s to connect)."""
    parts = urlsplit(url)
    try:
        socket.create_connection(
            (parts.hostname, parts.port or 6379), timeout=0.5
        ).close()
    except OSError:
        return False
    return True
