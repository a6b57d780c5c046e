from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from catalog import outbox
        from webhooks import services

        outbox.subscribe("webhooks", None, services.on_event)
