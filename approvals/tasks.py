"""Celery entry points of the approvals app."""

from celery import shared_task


@shared_task(name="approvals.send_notification", ignore_result=True)
def send_notification_task(notification_id: int, **_: object) -> bool:
    from approvals import notifications

    return notifications.send(notification_id)


@shared_task(name="approvals.sweep_notifications", ignore_result=True)
def sweep_notifications_task(**_: object) -> int:
    from approvals import notifications

    return notifications.sweep()


@shared_task(name="approvals.expire_approvals", ignore_result=True)
def expire_approvals_task(**_: object) -> int:
    from approvals.services import approvals_expire

    return approvals_expire()
