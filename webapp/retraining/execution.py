"""Training runs, the worker's side: execute a run (snapshot -> [tail-patch] -> train ->
evaluate -> gate -> register -> report -> promote) under its lease.

About 450 lines, over the ~400 guideline, on purpose: it is one pipeline, `_execute` and the
stages it calls in order (snapshot, start, base, train on one host or several, register,
report), which share the run's lease, its state folder and its stop checks; splitting `_execute`
would pass that state around for no reader's gain. What stands on its own lives beside it: the
lease and the writes that need it in leases.py, the tail-patch probes in tailpatch.py, the
candidate's evaluation and two-sided gate in evaluation.py, the foundation's part in
foundation.py, multi-host training in hosts.py, the requesting side in services.py."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from webapp.annotation.models import Project
from webapp.autoraters.selectors import version_promoted_for
from webapp.autoraters.services import version_promote, version_register
from webapp.retraining import variants, worker_stop
from webapp.retraining.evaluation import candidate_evaluate
from webapp.retraining.foundation import (
    Start,
    foundation_tokenizer,
    mixture_lineage,
    run_start,
    run_weights,
    start_labels_check,
    tokenizer_sha256,
    uses_foundation,
)
from webapp.retraining.hosts import HostsStopped, hosts_train
from webapp.retraining.leases import (
    TRANSIENT_ERRORS,
    Heartbeat,
    LeaseLost,
    RunStopped,
    db_reset,
    error_text,
    run_claim,
    run_finish,
    run_hand_back,
    run_update,
)
from webapp.retraining.models import TrainingRun, Variant
from webapp.retraining.services import run_enqueue, train_config_for, training_settings_for
from webapp.retraining.snapshots import (
    Snapshot,
    dataset_snapshot_export,
    heldout_examples,
    project_tasks,
)
from webapp.retraining.tailpatch import tailpatch_stage

logger = logging.getLogger(__name__)


class TransientRunError(Exception):
    """The database or broker was unreachable: retry the message with the run's lease."""

    def __init__(self, run_id: int, token: str, cause: BaseException) -> None:
        super().__init__(f"run {run_id}: {type(cause).__name__}: {cause}")
        self.run_id = run_id
        self.token = token


# --- execution ----------------------------------------------------------------------------


def training_run_execute(*, run_id: int, resume_token: str | None = None) -> TrainingRun | None:
    """Run the job if this message may (see leases.run_claim). Transient database or broker
    errors raise TransientRunError (the task retries with the lease); any other failure ends the
    run as failed with its cause; a cancel ends it as cancelled."""
    if worker_stop.stop_requested():
        # This worker is shutting down: leave the message to the next one.
        logger.info("run %s: worker stopping; message sent back to the queue", run_id)
        run_enqueue(run_id, resume_token)
        return None
    try:
        run = run_claim(run_id, resume_token=resume_token)
    except TRANSIENT_ERRORS as error:
        db_reset()
        raise TransientRunError(run_id, resume_token or "", error) from error
    if run is None:
        return None
    with Heartbeat(run.pk, run.lease_token) as heartbeat, worker_stop.training_active():
        try:
            _execute(run, heartbeat)
        except TRANSIENT_ERRORS as error:
            db_reset()
            logger.warning("run %s: transient error, will retry: %s", run_id, error)
            raise TransientRunError(run_id, run.lease_token, error) from error
        except (RunStopped, HostsStopped, *variants.cancelled_errors()) as error:
            # A multi-host run also stops when a peer's worker is stopping: hand it back too.
            hand_back = heartbeat.worker_stopping or (
                isinstance(error, HostsStopped) and error.worker_stop
            )
            if heartbeat.lost or isinstance(error, LeaseLost):
                logger.warning("run %s: lease lost; leaving the run to its new holder", run_id)
            elif hand_back and not _cancel_requested(run):
                # The worker is shutting down: the training state was saved at this step;
                # queue the run again and send its message now, for the next worker.
                if run_hand_back(run.pk, run.lease_token):
                    run_enqueue(run.pk)
            else:
                run_finish(run, TrainingRun.Status.CANCELLED, phase=TrainingRun.Phase.CANCELLED)
        except Exception as error:  # noqa: BLE001 - any other failure ends the run, with its cause
            logger.exception("training run %s failed", run_id)
            run_finish(run, TrainingRun.Status.FAILED, error=error_text(error))
    run.refresh_from_db()
    return run


def _cancel_requested(run: TrainingRun) -> bool:
    return bool(
        TrainingRun.objects.filter(pk=run.pk).values_list("cancel_requested", flat=True).first()
    )


def training_run_give_up(*, run_id: int, error: BaseException) -> None:
    """After the last retry of a transient error: record the failure if the database lets us."""
    try:
        TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED,
            error=f"Gave up after repeated transient errors: {error}",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    except TRANSIENT_ERRORS:
        db_reset()  # the recover check fails it once its lease has expired too often


# A training run's progress goes to the worker's console at most this often (and at its end).
PROGRESS_LOG_SECONDS = 15.0


class _Progress:
    """on_progress for training: loss curve, throughput and ETA (best effort writes), and a
    progress line on the worker's console."""

    def __init__(self, run: TrainingRun, heartbeat: Heartbeat, resumed_step: int) -> None:
        self.run = run
        self.heartbeat = heartbeat
        self.history = [point for point in run.loss_history if point[0] <= resumed_step]
        self.mark = (time.monotonic(), resumed_step)
        self.logged = float("-inf")

    def __call__(self, step: int, total: int, loss: float) -> None:
        # A worker stop is left to the loop's should_stop check, which saves the state first.
        if self.heartbeat.cancelled or self.heartbeat.lost:
            raise RunStopped("cancel requested")
        now = time.monotonic()
        then, then_step = self.mark
        self.mark = (now, step)
        rate = (step - then_step) / (now - then) if now > then and step > then_step else None
        self.history.append([step, round(float(loss), 5)])
        fields = {"step": step, "total_steps": total, "loss_history": self.history}
        if rate:
            fields.update(steps_per_second=round(rate, 3), eta_seconds=(total - step) / rate)
        if step >= total or now - self.logged >= PROGRESS_LOG_SECONDS:
            self.logged = now
            left = f", about {fields['eta_seconds']:.0f} s left" if "eta_seconds" in fields else ""
            logger.info("run %s: step %d/%d, loss %.4f%s", self.run.pk, step, total, loss, left)
        try:
            run_update(self.run, **fields)
        except TRANSIENT_ERRORS:
            db_reset()  # progress is best effort: training goes on while the database is away


def _latest_state_step(state_dir: Path) -> int:
    """The newest saved training step in a run's state dir (0: none)."""
    from training.loop.state import STATE_STEPS_DIR

    steps_dir = state_dir / STATE_STEPS_DIR
    if not steps_dir.is_dir():
        return 0
    steps = [int(p.name) for p in steps_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(steps, default=0)


def _snapshot(run: TrainingRun, foundation=None) -> Snapshot:
    """The run's immutable snapshot (the foundation's training examples, when one is mixed in,
    then the project's): exported once, reused as is when the run resumes."""
    if run.snapshot_path and Path(run.snapshot_path).exists():
        return Snapshot(
            path=Path(run.snapshot_path),
            sha256=run.snapshot_hash,
            n_examples=run.snapshot_examples,
            labels_cutoff_id=run.labels_cutoff_id,
            per_task={},
        )
    snapshot = dataset_snapshot_export(
        project=run.project,
        directory=settings.ARTIFACT_ROOT / "snapshots",
        foundation_dir=foundation.directory if foundation is not None else None,
    )
    run_update(
        run,
        snapshot_path=str(snapshot.path),
        snapshot_hash=snapshot.sha256,
        snapshot_examples=snapshot.n_examples,
        labels_cutoff_id=snapshot.labels_cutoff_id,
    )
    run.snapshot_path, run.snapshot_hash = str(snapshot.path), snapshot.sha256
    run.snapshot_examples, run.labels_cutoff_id = snapshot.n_examples, snapshot.labels_cutoff_id
    return snapshot


def _checkpoint_done(directory: Path) -> bool:
    from judging.checkpoint import METADATA_FILE

    return (directory / METADATA_FILE).exists()


def _execute(run: TrainingRun, heartbeat: Heartbeat) -> None:
    from judging.inference import Judge
    from training.loop.data import load_snapshot

    project = run.project
    root = settings.ARTIFACT_ROOT
    project_settings = training_settings_for(project)
    foundation = uses_foundation(project, project_settings)
    snapshot = _snapshot(run, foundation)
    config = train_config_for(
        preset=run.preset,
        project_overrides=project_settings.config_overrides,
        run_overrides=run.config_overrides,
    )
    if project_settings.mixture_weights:
        config = config.replace(mixture_weights=dict(project_settings.mixture_weights))
    tasks = project_tasks(project)
    own_tasks = set(tasks)
    snapshot_tasks, examples = load_snapshot(snapshot.path)
    tasks = {**snapshot_tasks, **tasks}
    per_task = dict(Counter(e.task for e in examples if e.label is not None))
    weights = run_weights(project_settings, foundation, per_task, own_tasks)
    if weights is not None:
        config = config.replace(mixture_weights=weights)
    start = _start(run, project, project_settings)
    start_labels_check(start, [tasks[name] for name in sorted(own_tasks)])
    state_dir = root / "train-state" / f"run{run.pk}"
    out_dir = root / "checkpoints" / f"{project.slug}-run{run.pk}"
    # A run that got this far before (another attempt, a retry, a stopping worker's hand-back)
    # resumes from its newest saved training state.
    resumed = _latest_state_step(state_dir) if run.state_dir else 0
    run_update(
        run,
        config=config.to_dict(),
        total_steps=config.steps,
        state_dir=str(state_dir),
        resumed_from_step=resumed,
    )
    progress = _Progress(run, heartbeat, resumed)
    train_kwargs = {"on_progress": progress, "should_stop": heartbeat.should_stop}

    if run.variant in (Variant.RM, Variant.OPT_RM) and not _checkpoint_done(out_dir):
        base = _base_checkpoint(run, tasks, examples, config, state_dir / "base", train_kwargs)
        if run.variant == Variant.OPT_RM:
            # One probe per project task (the foundation's tasks take the rest of the mixture).
            own = {name: tasks[name] for name in own_tasks}
            weights = tailpatch_stage(run, base, own, examples, config)
            if weights is None:
                return  # the probes are out as a Celery group; the last one resumes the run
            weights = (
                run_weights(project_settings, foundation, per_task, own_tasks, weights) or weights
            )
            config = config.replace(mixture_weights=weights)
            run_update(run, config=config.to_dict(), phase=TrainingRun.Phase.TRAINING)
    if run.variant == Variant.SELF_TAUGHT and not _checkpoint_done(out_dir):
        base = _base_checkpoint(run, tasks, examples, config, state_dir / "base", train_kwargs)
        run_update(run, phase=TrainingRun.Phase.TRAINING)
        variants.train_self_taught(
            base,
            tasks,
            examples,
            config,
            out_dir,
            heldout=heldout_examples(project),
            rounds=project_settings.self_taught_rounds,
            samples=project_settings.self_taught_samples,
            should_stop=heartbeat.should_stop,
        )
    if run.variant == Variant.RM:
        chosen = {**project_settings.config_overrides, **run.config_overrides}
        config = variants.rm_config(config, steps_chosen="steps" in chosen)
        run_update(run, config=config.to_dict(), total_steps=config.steps)
    if not _checkpoint_done(out_dir):
        run_update(run, phase=TrainingRun.Phase.TRAINING)
        if run.variant == Variant.RM:
            variants.train_rm(
                Path(run.base_checkpoint),
                tasks,
                examples,
                config,
                out_dir,
                state_dir=state_dir / "rm",
                **train_kwargs,
            )
        elif run.hosts > 1:
            hosts_train(
                run,
                heartbeat,
                progress,
                {
                    "tasks": {name: task.to_dict() for name, task in tasks.items()},
                    "snapshot": str(snapshot.path),
                    "config": config.to_dict(),
                    "out_dir": str(out_dir),
                    "state_dir": str(state_dir),
                    "init_checkpoint": start.checkpoint or None,
                },
                tokenizer=_fresh_tokenizer(start, foundation, project, tasks, examples, config),
            )
        else:
            variants.train_flame(
                tasks,
                examples,
                config,
                out_dir,
                state_dir=state_dir,
                init_checkpoint=start.checkpoint or None,
                tokenizer=_fresh_tokenizer(start, foundation, project, tasks, examples, config),
                **train_kwargs,
            )
    if heartbeat.should_stop():
        raise RunStopped("cancel requested")

    candidate = Judge.load(out_dir)
    # The checkpoint is the record of training: progress writes may have missed (database
    # away) or been skipped (resumed after training had finished).
    final_step = int(candidate.metadata.get("steps") or config.steps)
    history = progress.history
    if not history or history[-1][0] != final_step:
        history = [list(point) for point in candidate.metadata.get("loss_history") or history]
    run_update(
        run,
        phase=TrainingRun.Phase.EVALUATING,
        eta_seconds=0,
        step=final_step,
        loss_history=history,
    )
    trained_weights = candidate.metadata.get("mixture_weights") or {}
    evaluation = candidate_evaluate(
        run, project_settings, candidate, tasks, examples, foundation, start
    )
    run_update(
        run,
        phase=TrainingRun.Phase.REGISTERING,
        mixture_weights=trained_weights,
        metrics=evaluation["metrics"],
        gate=evaluation["gate"],
    )
    version = version_register(
        project=project,
        training_run=run,
        checkpoint_dir=str(out_dir),
        snapshot_hash=run.snapshot_hash,
        config={
            "train": config.to_dict(),
            "variant": run.variant,
            "preset": run.preset,
            "base_checkpoint": run.base_checkpoint,
            "per_task_examples": candidate.metadata.get("examples_per_task", {}),
            "start": start.lineage(),
            "tokenizer_sha256": tokenizer_sha256(out_dir),
            "project_share": None if foundation is None else project_settings.project_share,
            "mixture": mixture_lineage(trained_weights, foundation, own_tasks),
            **_self_taught_lineage(run, out_dir),
        },
        metrics=evaluation["metrics"],
        incumbent_metrics=evaluation["incumbent_metrics"],
        parent=evaluation["incumbent"],
        variant=run.variant,
        mixture_weights=trained_weights,
        gate=evaluation["gate"],
    )
    run_update(run, phase=TrainingRun.Phase.REPORT)
    from evaluation.report import full_report, write_report

    report_dir = root / "reports" / f"{project.slug}-v{version.number}"
    report = full_report(evaluation["judge"], tasks, evaluation["heldout"], n_bootstrap=200)
    lexical = evaluation["metrics"].get("lexical_baseline") or {}
    if "accuracy" in lexical:
        report["baselines"]["tfidf_logreg"] = {"accuracy": lexical["accuracy"]}
    report["lexical_baseline"] = lexical
    self_taught = out_dir / variants.SELF_TAUGHT_REPORT
    if run.variant == Variant.SELF_TAUGHT and self_taught.exists():
        import json

        report["self_taught"] = json.loads(self_taught.read_text("utf-8"))
    write_report(report, report_dir)
    version.report_dir = str(report_dir)
    version.save(update_fields=["report_dir", "updated_at"])
    if evaluation["gate"]["passed"]:
        run_update(run, phase=TrainingRun.Phase.PROMOTING)
        version_promote(version=version)
    run_finish(run, TrainingRun.Status.SUCCEEDED, phase=TrainingRun.Phase.DONE)


def _self_taught_lineage(run: TrainingRun, out_dir: Path) -> dict:
    """A Self-Taught version's rounds and samples per pair, as its loop ran them (its report
    in the checkpoint; the settings may have changed since, e.g. before a resume)."""
    report = out_dir / variants.SELF_TAUGHT_REPORT
    if run.variant != Variant.SELF_TAUGHT or not report.exists():
        return {}
    import json

    loop = json.loads(report.read_text("utf-8"))
    return {"self_taught": {"rounds": len(loop["rounds"]) - 1, "samples": loop["samples"]}}


def _fresh_tokenizer(start, foundation, project, tasks, examples, config):
    """The foundation's first autorater gets a tokenizer with reserved labels
    (foundation.foundation_tokenizer); every other run builds its own or keeps its start's."""
    if start.checkpoint or foundation is None or foundation.project_id != project.pk:
        return None
    return foundation_tokenizer(tasks, examples, config.vocab_size)


def _start(run: TrainingRun, project: Project, project_settings) -> Start:
    """Where the run's FLAMe training starts (kept in run.base_checkpoint, so a resumed run
    starts from the same checkpoint even if the live version changed meanwhile). With no start
    (from scratch), run.base_checkpoint is only FLAMe-RM / Opt-RM's own base, never a start."""
    found = run_start(project, project_settings)
    if not found.checkpoint:
        return Start()
    if run.base_checkpoint and run.base_checkpoint != found.checkpoint:
        return Start(checkpoint=run.base_checkpoint, kind="resumed")
    if not run.base_checkpoint:
        run_update(run, base_checkpoint=found.checkpoint)
        run.base_checkpoint = found.checkpoint
    return found


def _base_checkpoint(run, tasks, examples, config, state_dir, train_kwargs) -> Path:
    """FLAMe-RM / Opt-RM start from the live version, else from a FLAMe model trained first."""
    if run.base_checkpoint and Path(run.base_checkpoint).exists():
        return Path(run.base_checkpoint)
    live = version_promoted_for(run.project_id)
    if live is not None and Path(live.checkpoint_dir).exists():
        base = Path(live.checkpoint_dir)
    else:
        base = settings.ARTIFACT_ROOT / "checkpoints" / f"{run.project.slug}-run{run.pk}-base"
        if not _checkpoint_done(base):
            run_update(run, phase=TrainingRun.Phase.TRAINING_BASE)
            variants.train_flame(tasks, examples, config, base, state_dir=state_dir, **train_kwargs)
    run_update(run, base_checkpoint=str(base))
    run.base_checkpoint = str(base)
    return base
