"""Who holds a training run: a lease claimed under a row lock and renewed by a heartbeat.

A message for a run is honoured only if the run is queued, or running under a lease that
expired (its worker died: take it over and resume from the last checkpoint), or running under
this very lease (our own retry after a transient error). Anything else is a duplicate delivery
and does nothing, so a message delivered twice never runs twice.

The holder writes the run's row only through `run_update` and `run_finish`, which write nothing
once the lease is another worker's (`run_update` raises LeaseLost then).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from datetime import timedelta

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from webapp.retraining import worker_stop
from webapp.retraining.models import TrainingRun

logger = logging.getLogger(__name__)

# Errors worth retrying: the database or the broker was briefly unreachable.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
)

INTERRUPTED = (
    "Interrupted: the worker stopped during this run {attempts} times (the most allowed). "
    "Request a new retrain."
)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_expired(run: TrainingRun, now=None) -> bool:
    now = now or timezone.now()
    lease = timedelta(seconds=settings.EMBER_RUN_LEASE_SECONDS)
    return run.heartbeat_at is None or now - run.heartbeat_at >= lease


def db_reset() -> None:
    """Drop this thread's database connection so that the next query reconnects."""
    try:
        connection.close()
    except DatabaseError:
        pass


def run_claim(run_id: int, *, resume_token: str | None = None) -> TrainingRun | None:
    """Take the run's lease under a row lock, or return None when this message must not run."""
    now = timezone.now()
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return None
        if run.status == TrainingRun.Status.QUEUED:
            if run.cancel_requested:
                run.status = TrainingRun.Status.CANCELLED
                run.finished_at = now
                run.save(update_fields=["status", "finished_at", "updated_at"])
                return None
            run.status = TrainingRun.Status.RUNNING
            run.phase = TrainingRun.Phase.SNAPSHOT
            if run.started_at is None:
                run.started_at = now
                run.attempts = 1
            else:  # handed back by a stopping worker (run_hand_back): not a new attempt
                logger.info("run %s: handed back by a stopping worker; resuming", run_id)
        elif run.status == TrainingRun.Status.RUNNING:
            if resume_token and resume_token == run.lease_token:
                run.retries += 1  # our own continuation (transient error, tail-patch fan-in)
            elif not lease_expired(run, now):
                logger.info("run %s: duplicate delivery; %s holds it", run_id, run.worker)
                return None
            elif run.attempts >= settings.EMBER_RUN_MAX_ATTEMPTS:
                run.status = TrainingRun.Status.FAILED
                run.error = INTERRUPTED.format(attempts=run.attempts)
                run.finished_at = now
                run.save(update_fields=["status", "error", "finished_at", "updated_at"])
                return None
            else:
                logger.warning("run %s: lease of %s expired; resuming", run_id, run.worker)
                run.attempts += 1
        else:
            return None
        run.lease_token = uuid.uuid4().hex
        run.worker = worker_name()
        run.heartbeat_at = now
        run.save()
        return run


def run_hand_back(run_id: int, token: str) -> bool:
    """A stopping worker gives its run back: queued again, its lease released, so the next
    worker takes it at once (the caller re-sends the message) and resumes from the training
    state saved at the stop. Not counted as an attempt. False if the lease was not ours."""
    with transaction.atomic():
        run = (
            TrainingRun.objects.select_for_update()
            .filter(pk=run_id, lease_token=token, status=TrainingRun.Status.RUNNING)
            .first()
        )
        if run is None:
            return False
        now = timezone.now()
        run.status = TrainingRun.Status.QUEUED
        run.phase = ""
        run.lease_token = ""
        run.heartbeat_at = None
        run.enqueued_at = now
        run.eta_seconds = None
        run.steps_per_second = None
        run.save()
    logger.warning("run %s: worker %s stopping; handed the run back", run_id, worker_name())
    return True


class Heartbeat:
    """Renews the run's lease from a background thread and notices a cancel request or a lost
    lease; should_stop() is also True once the worker is shutting down (worker_stop), so the
    run stops at its next step and is handed back. Database errors are tolerated: it tries
    again."""

    def __init__(self, run_id: int, token: str) -> None:
        self.run_id = run_id
        self.token = token
        self.cancelled = False
        self.lost = False
        lease = settings.EMBER_RUN_LEASE_SECONDS
        self.interval = max(0.25, min(2.0, lease / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def worker_stopping(self) -> bool:
        return worker_stop.stop_requested()

    def should_stop(self) -> bool:
        return self.cancelled or self.lost or self.worker_stopping

    def beat(self) -> None:
        held = TrainingRun.objects.filter(
            pk=self.run_id, lease_token=self.token, status=TrainingRun.Status.RUNNING
        )
        if held.update(heartbeat_at=timezone.now()) == 0:
            self.lost = True
            return
        self.cancelled = bool(held.values_list("cancel_requested", flat=True).first())

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except TRANSIENT_ERRORS:
                    db_reset()
        finally:
            db_reset()


# --- writes while holding the lease ------------------------------------------------------


class RunStopped(Exception):
    """Cancelled by an admin, or the lease went to another worker."""


class LeaseLost(RunStopped):
    pass


def _held(run: TrainingRun):
    return TrainingRun.objects.filter(
        pk=run.pk, lease_token=run.lease_token, status=TrainingRun.Status.RUNNING
    )


def run_update(run: TrainingRun, **fields) -> None:
    """Write the run's row while we hold its lease (else stop: another worker has it)."""
    if _held(run).update(**fields, updated_at=timezone.now()) == 0:
        raise LeaseLost(f"run {run.pk}: the lease is no longer ours")


def run_finish(run: TrainingRun, status: str, **fields) -> None:
    _held(run).update(
        status=status, finished_at=timezone.now(), updated_at=timezone.now(), **fields
    )


def error_text(error: BaseException) -> str:
    """The error and the end of its traceback, as a failed run or probe records it."""
    return f"{type(error).__name__}: {error}\n\n{traceback.format_exc()[-4000:]}"
