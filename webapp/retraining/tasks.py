"""Train and default queues: thin adapters from messages (ids) to services.

Transient errors (database or broker briefly unreachable) are retried with the run's lease, so
the retry resumes the same run from its last checkpoint; every other failure is recorded on
the run by the service. A message delivered twice runs once (see retraining.leases). A worker
asked to stop hands its run back at the next training step (see retraining.worker_stop).
"""

from celery import shared_task
from django.conf import settings

from webapp.retraining import worker_stop  # noqa: F401 - connects the worker-stop receivers
from webapp.retraining.leases import TRANSIENT_ERRORS


@shared_task(bind=True, name="ember.train.execute_run", acks_late=True)
def training_run_execute_task(self, run_id: int, resume_token: str | None = None, **kwargs):
    from webapp.retraining.execution import (
        TransientRunError,
        training_run_execute,
        training_run_give_up,
    )

    try:
        training_run_execute(run_id=run_id, resume_token=resume_token)
    except (TransientRunError, *TRANSIENT_ERRORS) as error:
        token = getattr(error, "token", None) or resume_token
        if self.request.retries >= settings.EMBER_TRANSIENT_RETRIES:
            training_run_give_up(run_id=run_id, error=error)
            return
        raise self.retry(
            args=(run_id,),
            kwargs={"resume_token": token} if token else {},
            countdown=settings.EMBER_TRANSIENT_RETRY_SECONDS,
            max_retries=settings.EMBER_TRANSIENT_RETRIES,
            exc=error,
        ) from error


@shared_task(bind=True, name="ember.train.tailpatch_probe", acks_late=True)
def tailpatch_probe_task(self, probe_id: int, token: str, **kwargs) -> None:
    from webapp.retraining.tailpatch import tailpatch_probe_execute

    try:
        tailpatch_probe_execute(probe_id=probe_id, token=token)
    except TRANSIENT_ERRORS as error:
        raise self.retry(
            countdown=settings.EMBER_TRANSIENT_RETRY_SECONDS,
            max_retries=settings.EMBER_TRANSIENT_RETRIES,
            exc=error,
        ) from error


@shared_task(name="ember.train.join_run", acks_late=True)
def host_join_task(run_id: int, attempt: str, index: int, **kwargs) -> int | None:
    """Process `index` of a multi-host run's attempt, on this host (retraining/hosts.py)."""
    from webapp.retraining.hosts import host_join

    return host_join(run_id=run_id, attempt=attempt, index=index)


@shared_task(name="ember.default.fold_and_retrain_check")
def fold_and_retrain_check_task(**kwargs) -> list[int]:
    from webapp.retraining.beat import fold_and_retrain_check

    return fold_and_retrain_check()


@shared_task(name="ember.default.recover_jobs")
def jobs_recover_task(**kwargs) -> dict:
    from webapp.retraining.beat import jobs_recover

    return jobs_recover()


@shared_task(name="ember.train.foundation_build")
def foundation_build_task(**kwargs) -> int:
    """Build the foundation of EMBER_FOUNDATION_DATA and queue its autorater's training run."""
    from webapp.retraining.foundation import foundation_build, foundation_train_request

    foundation_build()
    return foundation_train_request().pk
