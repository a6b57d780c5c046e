from rest_framework.permissions import BasePermission

from accounts.roles import can_read


class HasAnyRole(BasePermission):
    """Signed in and holding at least one registry role; the verb's own check is in
    the service layer."""

    message = "You need a registry role (viewer or above) to use the registry."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        return bool(
            request.user and request.user.is_authenticated and can_read(request.user)
        )
