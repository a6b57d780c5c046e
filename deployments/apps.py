from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self) -> None:
        from catalog import outbox
        from deployments import dispatch, isolated_serving

        outbox.subscribe("deployments", dispatch.KINDS, dispatch.on_event)
        isolated_serving.announce()
