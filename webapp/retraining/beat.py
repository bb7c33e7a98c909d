"""The beat checks: fold new human labels into a retrain, and recover what a crash or a broker
restart left behind. Split from services.py, whose requests they use."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from webapp.annotation.models import Annotation, Item, Project
from webapp.autoraters.models import AutoraterVersion
from webapp.autoraters.services import judgments_enqueue
from webapp.retraining.leases import lease_expired
from webapp.retraining.models import TrainingRun
from webapp.retraining.selectors import retrain_backoff_for
from webapp.retraining.services import run_enqueue, training_run_request


def fold_and_retrain_check() -> list[int]:
    """Beat: retrain projects that received enough new human labels since their last snapshot.
    A project whose automatic runs keep failing is skipped until its backoff is over
    (selectors.retrain_backoff_for): the failed run's labels are still new, so without it every
    check would start another failing run."""
    started = []
    now = timezone.now()
    for project in Project.objects.all():
        if project.training_runs.filter(status__in=TrainingRun.ACTIVE).exists():
            continue
        if retrain_backoff_for(project, now) is not None:
            continue
        last = project.training_runs.filter(status=TrainingRun.Status.SUCCEEDED).first()
        cutoff = last.labels_cutoff_id if last else 0
        new_labels = Annotation.objects.filter(item__project=project, pk__gt=cutoff).count()
        threshold = project.retrain_min_new_labels or settings.EMBER_RETRAIN_MIN_NEW_LABELS
        if new_labels >= threshold:
            run = training_run_request(project=project, trigger=TrainingRun.Trigger.SCHEDULE)
            started.append(run.pk)
    return started


def _queue_length(name: str) -> int | None:
    from webapp.config.celery import app

    try:
        with app.connection_for_read() as connection:
            return connection.default_channel.queue_declare(queue=name, passive=True).message_count
    except Exception:  # noqa: BLE001 - unknown (e.g. the queue was never declared)
        return None


def jobs_recover() -> dict[str, list[int]]:
    """Beat: finish what a crash or a broker restart left behind. Resend runs whose worker
    stopped renewing the lease (they resume from their checkpoint, or fail after too many
    attempts), queued runs whose message may be lost, and judging the live version still owes.
    Resending is always safe: a run's lease decides who runs it."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.EMBER_RUN_LEASE_SECONDS)
    resumed = [
        run.pk
        for run in TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
        if lease_expired(run, now)
    ]
    for run_id in resumed:
        run_enqueue(run_id)
    requeued = list(
        TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED)
        .filter(Q(enqueued_at__lt=stale_before) | Q(enqueued_at=None))
        .values_list("pk", flat=True)
    )
    for run_id in requeued:
        TrainingRun.objects.filter(pk=run_id).update(enqueued_at=now)
        run_enqueue(run_id)
    judged = []
    if not _queue_length("judge"):
        live = AutoraterVersion.objects.filter(
            status=AutoraterVersion.Status.PROMOTED, promoted_at__lt=stale_before
        )
        for version in live:
            missing = list(
                Item.objects.filter(project_id=version.project_id)
                .exclude(model_judgments__version=version)
                .values_list("pk", flat=True)
            )
            if missing:
                judgments_enqueue(version=version, item_ids=missing)
                judged.append(version.pk)
    return {"resumed": resumed, "requeued": requeued, "judging": judged}
