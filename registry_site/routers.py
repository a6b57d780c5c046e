from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """The trailing slash is optional, so both `/artifact` and `/artifact/` work."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
