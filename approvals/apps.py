from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals import notifications
        from catalog import outbox

        outbox.subscribe(
            "approvals.notifications", notifications.KINDS, notifications.on_event
        )
