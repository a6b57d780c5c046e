"""Celery entry points of webhooks."""

from celery import shared_task


@shared_task(name="webhooks.deliver", acks_late=True, ignore_result=True)
def deliver_task(delivery_pk: int, **_: object) -> str:
    from webhooks import services

    return services.delivery_attempt(delivery_pk)


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep_task(**_: object) -> int:
    from webhooks import services

    return services.sweep()
