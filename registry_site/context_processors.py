from typing import Any

from django.http import HttpRequest


def registry(request: HttpRequest) -> dict[str, Any]:
    """What every page's header needs (user roles, inbox count)."""
    return {}
