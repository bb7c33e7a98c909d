"""Reads for retraining: whether beat's automatic retraining is backing off for a project."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from webapp.annotation.models import Project
from webapp.retraining.models import TrainingRun


@dataclasses.dataclass(frozen=True)
class RetrainBackoff:
    """Automatic retraining is paused: `failures` beat-started runs failed in a row, the last
    at `last_failed_at`; the fold-and-retrain check starts no run before `next_try_at`."""

    failures: int
    last_failed_at: datetime
    next_try_at: datetime


def retrain_backoff_delay(failures: int) -> timedelta:
    """The wait after `failures` consecutive failed automatic runs: EMBER_RETRAIN_BACKOFF_SECONDS
    after the first, doubling with each further failure, at most
    EMBER_RETRAIN_BACKOFF_MAX_SECONDS."""
    base = settings.EMBER_RETRAIN_BACKOFF_SECONDS
    cap = settings.EMBER_RETRAIN_BACKOFF_MAX_SECONDS
    if failures <= 0:
        return timedelta(0)
    return timedelta(seconds=min(cap, base * 2 ** min(failures - 1, 62)))


def retrain_backoff_for(project: Project, now: datetime | None = None) -> RetrainBackoff | None:
    """The backoff in force for the project's automatic (beat-triggered) retraining, or None.

    Counts the failed "schedule" runs since the project's last successful run or last manual
    run (an admin's retrain resets the count whatever its outcome; cancelled and bootstrap runs
    neither count nor reset). None when there are none, or when the wait after the last one
    (see `retrain_backoff_delay`) is over."""
    now = now or timezone.now()
    runs = TrainingRun.objects.filter(project=project)
    reset = (
        runs.filter(Q(status=TrainingRun.Status.SUCCEEDED) | Q(trigger=TrainingRun.Trigger.MANUAL))
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    ) or 0
    failed = runs.filter(
        pk__gt=reset, trigger=TrainingRun.Trigger.SCHEDULE, status=TrainingRun.Status.FAILED
    )
    failures = failed.count()
    if not failures:
        return None
    last = failed.order_by("-pk").first()
    last_failed_at = last.finished_at or last.updated_at
    next_try_at = last_failed_at + retrain_backoff_delay(failures)
    if now >= next_try_at:
        return None
    return RetrainBackoff(failures=failures, last_failed_at=last_failed_at, next_try_at=next_try_at)
