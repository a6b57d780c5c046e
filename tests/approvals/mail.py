"""Mail transports for the tests: the seam that notifications send through."""

from __future__ import annotations

from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class BrokenBackend(BaseEmailBackend):
    """A mail server that is down: every send raises."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")
