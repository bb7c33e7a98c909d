"""Train and default queues: thin adapters from messages (ids) to services."""

from celery import shared_task


@shared_task(name="ember.train.execute_run", acks_late=True)
def training_run_execute_task(run_id: int, **kwargs) -> None:
    from webapp.jobs.services import training_run_execute

    training_run_execute(run_id=run_id)


@shared_task(name="ember.default.fold_and_retrain_check")
def fold_and_retrain_check_task(**kwargs) -> list[int]:
    from webapp.jobs.services import fold_and_retrain_check

    return fold_and_retrain_check()
