"""Celery entry points of the catalog: the outbox doorbell and its periodic sweep."""

from celery import shared_task


@shared_task(name="catalog.dispatch_event", acks_late=True, ignore_result=True)
def dispatch_event_task(event_id: int, **_: object) -> int:
    from catalog import outbox

    return outbox.dispatch(event_id)


@shared_task(name="catalog.sweep_outbox", ignore_result=True)
def sweep_outbox_task(**_: object) -> int:
    from catalog import outbox

    return outbox.sweep()
