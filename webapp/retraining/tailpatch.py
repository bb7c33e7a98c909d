"""FLAMe-Opt-RM's tail-patch stage: one probe per project task, fanned out as a Celery group
(`tailpatch_stage`); each probe (`tailpatch_probe_execute`) keeps the run's lease alive, and the
last one to finish queues the run again, which then trains with the probes' weights."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from webapp.retraining import variants
from webapp.retraining.leases import TRANSIENT_ERRORS, Heartbeat, error_text, run_update
from webapp.retraining.models import TailPatchProbe, TrainingRun
from webapp.retraining.services import run_enqueue
from webapp.retraining.snapshots import heldout_examples, project_tasks


def tailpatch_stage(run, base, tasks, examples, config) -> dict[str, float] | None:
    """Fan the per-task probes out as a Celery group; once all are done, their weights."""
    from celery import group

    from webapp.retraining.tasks import tailpatch_probe_task

    names = sorted({e.task for e in examples if e.task in tasks and e.label is not None})
    TailPatchProbe.objects.bulk_create(
        [TailPatchProbe(run=run, task_name=name) for name in names], ignore_conflicts=True
    )
    probes = list(run.probes.all())
    failed = [p for p in probes if p.status == TailPatchProbe.Status.FAILED]
    if failed:
        raise RuntimeError(f"tail-patch probe for {failed[0].task_name} failed: {failed[0].error}")
    pending = [p for p in probes if p.status == TailPatchProbe.Status.QUEUED]
    if pending:
        run_update(run, phase=TrainingRun.Phase.TAILPATCH_PROBES)
        group(tailpatch_probe_task.s(p.pk, run.lease_token) for p in pending).apply_async()
        return None
    return variants.tailpatch_weights({p.task_name: p.result for p in probes})


def tailpatch_probe_execute(*, probe_id: int, token: str) -> None:
    """One probe of the group; it keeps the run's lease alive, and the last one resumes it."""
    from training.config import TrainConfig
    from training.loop.data import load_snapshot

    probe = TailPatchProbe.objects.select_related("run", "run__project").filter(pk=probe_id)
    probe = probe.first()
    if probe is None or probe.status != TailPatchProbe.Status.QUEUED:
        return
    run = probe.run
    if run.status != TrainingRun.Status.RUNNING or run.lease_token != token:
        return
    with Heartbeat(run.pk, token) as heartbeat:
        try:
            tasks = project_tasks(run.project)
            _, examples = load_snapshot(run.snapshot_path)
            work_dir = Path(run.state_dir) / "tailpatch" / probe.task_name
            result = variants.tailpatch_probe(
                Path(run.base_checkpoint),
                probe.task_name,
                tasks,
                examples,
                variants.probe_config(TrainConfig.from_dict(run.config)),
                work_dir,
                heldout=heldout_examples(run.project),
            )
            probe.status, probe.result = TailPatchProbe.Status.DONE, result
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:  # noqa: BLE001 - recorded; the run fails when it resumes
            probe.status, probe.error = TailPatchProbe.Status.FAILED, error_text(error)
        if heartbeat.lost:
            return
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        probe.save(update_fields=["status", "result", "error", "updated_at"])
        waiting = locked.probes.filter(status=TailPatchProbe.Status.QUEUED).exists()
        if not waiting and locked.status == TrainingRun.Status.RUNNING:
            resume = locked.lease_token
            transaction.on_commit(lambda: run_enqueue(run.pk, resume_token=resume))
