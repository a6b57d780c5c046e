from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import DEFAULT_SCOPES
from accounts.services import token_issue
from common.errors import Invalid


class Command(BaseCommand):
    help = "Issue a new API token for USERNAME and print it (it is shown only once)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label for the token")
        parser.add_argument(
            "--days", type=int, default=None, help="expire after N days"
        )
        parser.add_argument(
            "--scopes",
            default=",".join(DEFAULT_SCOPES),
            help="comma-separated scopes (default: %(default)s; add 'tokens' to "
            "let the token manage tokens)",
        )

    def handle(
        self, *args, username: str, name: str, days: int | None, scopes: str, **options
    ):  # type: ignore[no-untyped-def]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        expires = timezone.now() + timedelta(days=days) if days else None
        chosen = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        try:
            _, key = token_issue(
                user=user,
                name=name or "cli",
                expires_at=expires,
                scopes=chosen,
                via="command",
            )
        except Invalid as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(key)
