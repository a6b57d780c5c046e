"""Celery entry points of the catalog: the outbox doorbell, its periodic sweep, the
sweep of what crashes leave behind, the deferred check of large artifacts, and the
registry's own evaluation of versions."""

from celery import shared_task


@shared_task(name="catalog.dispatch_event", acks_late=True, ignore_result=True)
def dispatch_event_task(event_id: int, **_: object) -> int:
    from catalog import outbox

    return outbox.dispatch(event_id)


@shared_task(name="catalog.sweep_outbox", ignore_result=True)
def sweep_outbox_task(**_: object) -> int:
    from catalog import outbox

    return outbox.sweep()


@shared_task(name="catalog.sweep_artifacts", ignore_result=True)
def sweep_artifacts_task(**_: object) -> dict[str, int]:
    from catalog import services

    return services.artifact_sweep()


@shared_task(name="catalog.check_artifact", acks_late=True, ignore_result=True)
def check_artifact_task(version_id: int, **_: object) -> str:
    from catalog import services

    return services.version_check(version_id)


@shared_task(name="catalog.sweep_checks", ignore_result=True)
def sweep_checks_task(**_: object) -> int:
    from catalog import services

    return services.checks_sweep()


@shared_task(name="catalog.import_artifact", acks_late=True, ignore_result=True)
def import_artifact_task(version_id: int, bucket: str, key: str, **_: object) -> str:
    from catalog import services

    return services.version_import_artifact(
        version_id=version_id, bucket=bucket, key=key
    )


@shared_task(name="catalog.import_folder", acks_late=True, ignore_result=True)
def import_folder_task(version_id: int, plan: dict, **_: object) -> str:
    from catalog import folders

    return folders.version_import_folder(version_id=version_id, plan=plan)


@shared_task(name="catalog.import_metrics", acks_late=True, ignore_result=True)
def import_metrics_task(version_id: int, bucket: str, key: str, **_: object) -> str:
    from catalog import services

    return services.version_import_metrics(
        version_id=version_id, bucket=bucket, key=key
    )


@shared_task(name="catalog.sweep_imports", ignore_result=True)
def sweep_imports_task(**_: object) -> int:
    from catalog import services

    return services.import_sweep()


@shared_task(name="catalog.evaluate_version", acks_late=True, ignore_result=True)
def evaluate_version_task(evaluation_id: int, **_: object) -> str:
    from catalog import evaluation

    return evaluation.evaluation_run(evaluation_id)


@shared_task(name="catalog.sweep_evaluations", ignore_result=True)
def sweep_evaluations_task(**_: object) -> int:
    from catalog import evaluation

    return evaluation.evaluations_sweep()
