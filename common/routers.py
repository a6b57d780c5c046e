from typing import Any

from rest_framework.routers import SimpleRouter

# Ids fit a 64-bit integer; anything else is a 404, never an overflow in the database.
ID_REGEX = r"[0-9]{1,18}"


class OptionalSlashRouter(SimpleRouter):
    """The trailing slash is optional, so both `/artifact` and `/artifact/` work.

    Viewsets looked up by primary key match only ids, so `/tokens/abc/` is a 404.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        if getattr(viewset, "lookup_field", "pk") == "pk" and not getattr(
            viewset, "lookup_value_regex", None
        ):
            lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or "pk"
            return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{ID_REGEX})"
        return super().get_lookup_regex(viewset, lookup_prefix)
