from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ALL_ROLES
from accounts.services import user_roles_set


class Command(BaseCommand):
    help = "Give USERNAME exactly the listed roles (viewer, contributor, reviewer, deployer, admin)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("roles", nargs="*")

    def handle(self, *args, username: str, roles: list[str], **options):  # type: ignore[no-untyped-def]
        unknown = sorted(set(roles) - ALL_ROLES)
        if unknown:
            raise CommandError(
                f"Unknown role(s): {', '.join(unknown)}; "
                f"choose from {', '.join(sorted(ALL_ROLES))}."
            )
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        user_roles_set(actor=None, user=user, roles=roles, via="command")
        self.stdout.write(f"{username}: {', '.join(sorted(roles)) or '(no roles)'}")
