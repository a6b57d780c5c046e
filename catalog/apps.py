from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from catalog import evaluation, outbox

        outbox.subscribe(
            "catalog.evaluation", evaluation.EVALUATE_ON, evaluation.on_event
        )
