"""Training runs: request, execute (snapshot -> train -> evaluate -> register -> promote)."""

from __future__ import annotations

import logging
import traceback

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.annotation.models import Annotation, Project
from webapp.autoraters.selectors import version_promoted_for
from webapp.autoraters.services import version_promote, version_register
from webapp.jobs.models import TrainingRun
from webapp.jobs.snapshots import dataset_snapshot_export, heldout_examples, project_tasks

logger = logging.getLogger(__name__)

INTERRUPTED = "Interrupted: the worker stopped during this run. Request a new retrain."


def training_run_request(*, project: Project, trigger: str, requested_by=None) -> TrainingRun:
    """Queue a retrain; if one is already queued or running, return that one instead."""
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        active = project.training_runs.filter(status__in=TrainingRun.ACTIVE).first()
        if active is not None:
            return active
        run = TrainingRun.objects.create(
            project=project,
            trigger=trigger,
            requested_by=requested_by,
            preset=settings.EMBER_TRAIN_PRESET,
        )
        from webapp.jobs.tasks import training_run_execute_task

        transaction.on_commit(lambda: training_run_execute_task.delay(run.pk))
    return run


def training_run_bootstrap(*, project: Project) -> TrainingRun | None:
    """The first autorater: queue a run if the project has no version and none is on the way."""
    if (
        project.autorater_versions.exists()
        or project.training_runs.filter(status__in=TrainingRun.ACTIVE).exists()
    ):
        return None
    return training_run_request(project=project, trigger=TrainingRun.Trigger.BOOTSTRAP)


def _run_update(run_id: int, **fields) -> None:
    TrainingRun.objects.filter(pk=run_id).update(**fields, updated_at=timezone.now())


def _run_start(run_id: int) -> TrainingRun | None:
    """queued -> running under a row lock; a redelivered message does nothing twice."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return None
        if run.status == TrainingRun.Status.RUNNING:
            # The message came back because the worker died mid-run: fail cleanly.
            run.status = TrainingRun.Status.FAILED
            run.error = INTERRUPTED
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at", "updated_at"])
            return None
        if run.status != TrainingRun.Status.QUEUED:
            return None
        run.status = TrainingRun.Status.RUNNING
        run.started_at = timezone.now()
        run.phase = "snapshot"
        run.save(update_fields=["status", "started_at", "phase", "updated_at"])
        return run


def training_run_execute(*, run_id: int) -> TrainingRun | None:
    run = _run_start(run_id)
    if run is None:
        return None
    try:
        _execute(run)
    except Exception as error:  # noqa: BLE001 - any failure ends the run cleanly, with its cause
        logger.exception("training run %s failed", run_id)
        _run_update(
            run_id,
            status=TrainingRun.Status.FAILED,
            error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc()[-4000:]}",
            finished_at=timezone.now(),
        )
    run.refresh_from_db()
    return run


def _execute(run: TrainingRun) -> None:
    from judging.inference import Judge
    from training.config import TrainConfig
    from training.evaluate import evaluate
    from training.report import full_report, write_report
    from training.train import train

    project = run.project
    root = settings.ARTIFACT_ROOT
    snapshot = dataset_snapshot_export(project=project, directory=root / "snapshots")
    config = TrainConfig.preset(run.preset, **settings.EMBER_TRAIN_OVERRIDES)
    _run_update(
        run.pk,
        snapshot_path=str(snapshot.path),
        snapshot_hash=snapshot.sha256,
        snapshot_examples=snapshot.n_examples,
        labels_cutoff_id=snapshot.labels_cutoff_id,
        config=config.to_dict(),
        total_steps=config.steps,
        phase="training",
    )
    history: list[list[float]] = []

    def on_progress(step: int, total: int, loss: float) -> None:
        history.append([step, round(float(loss), 5)])
        _run_update(run.pk, step=step, total_steps=total, loss_history=history)

    tasks = project_tasks(project)
    from training.train import load_snapshot

    _, examples = load_snapshot(snapshot.path)
    out_dir = root / "checkpoints" / f"{project.slug}-run{run.pk}"
    result = train(tasks, examples, config, out_dir, on_progress=on_progress)

    _run_update(run.pk, phase="evaluating")
    heldout = heldout_examples(project)
    judge = Judge.load(result.checkpoint_dir)
    metrics = evaluate(judge, tasks, heldout)
    incumbent = version_promoted_for(project.pk)
    incumbent_metrics = {}
    if incumbent is not None:
        incumbent_metrics = evaluate(Judge.load(incumbent.checkpoint_dir), tasks, heldout)
    version = version_register(
        project=project,
        training_run=run,
        checkpoint_dir=str(result.checkpoint_dir),
        snapshot_hash=snapshot.sha256,
        config={"train": config.to_dict(), "per_task_examples": snapshot.per_task},
        metrics=metrics,
        incumbent_metrics=incumbent_metrics,
        parent=incumbent,
    )
    _run_update(run.pk, phase="report")
    report_dir = root / "reports" / f"{project.slug}-v{version.number}"
    write_report(full_report(judge, tasks, heldout, n_bootstrap=200), report_dir)
    version.report_dir = str(report_dir)
    version.save(update_fields=["report_dir", "updated_at"])
    if incumbent is None or metrics["accuracy"] > incumbent_metrics.get("accuracy", -1.0):
        version_promote(version=version)
    _run_update(
        run.pk, status=TrainingRun.Status.SUCCEEDED, phase="done", finished_at=timezone.now()
    )


def fold_and_retrain_check() -> list[int]:
    """Beat: retrain projects that received enough new human labels since their last snapshot."""
    started = []
    for project in Project.objects.all():
        if project.training_runs.filter(status__in=TrainingRun.ACTIVE).exists():
            continue
        last = project.training_runs.filter(status=TrainingRun.Status.SUCCEEDED).first()
        cutoff = last.labels_cutoff_id if last else 0
        new_labels = Annotation.objects.filter(item__project=project, pk__gt=cutoff).count()
        threshold = project.retrain_min_new_labels or settings.EMBER_RETRAIN_MIN_NEW_LABELS
        if new_labels >= threshold:
            run = training_run_request(project=project, trigger=TrainingRun.Trigger.SCHEDULE)
            started.append(run.pk)
    return started
