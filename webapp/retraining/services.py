"""Training runs, the requesting side: the project's training settings, a run's request (queued
once per project, audited), its message, the first-autorater bootstrap and cancel. The worker's
side, executing a run, is execution.py; the beat checks (fold-and-retrain, recover) are beat.py."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.annotation.models import Project
from webapp.audit.services import Via, audit_record
from webapp.retraining.leases import (
    TRANSIENT_ERRORS,
)
from webapp.retraining.models import TrainingRun, TrainingSettings, Variant

logger = logging.getLogger(__name__)


# --- settings and requests ----------------------------------------------------------------


def training_settings_for(project: Project) -> TrainingSettings:
    found, _ = TrainingSettings.objects.get_or_create(project=project)
    return found


# What an admin may change in a project's training settings (the settings form's fields).
TRAINING_SETTINGS_FIELDS = (
    "variant",
    "self_taught_rounds",
    "self_taught_samples",
    "mixture_weights",
    "config_overrides",
    "gate_agreement_tolerance",
    "gate_bias_tolerance",
    "gate_foundation_tolerance",
    "base",
    "base_version",
    "base_path",
    "project_share",
)


def training_settings_update(
    *, project: Project, values: dict, actor=None, via: Via | None = None
) -> TrainingSettings:
    """Save the project's training settings (values already validated, e.g. by the settings
    form). Audited as "training_settings.update" with each changed field's [before, after]."""
    unknown = set(values) - set(TRAINING_SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"not a training setting: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        training_settings_for(project)
        found = TrainingSettings.objects.select_for_update().get(project=project)
        changed = {
            name: [_plain(getattr(found, name)), _plain(value)]
            for name, value in values.items()
            if getattr(found, name) != value
        }
        for name, value in values.items():
            setattr(found, name, value)
        found.save()
        audit_record(
            action="training_settings.update",
            actor=actor,
            via=via,
            obj=found,
            summary={"project": project.slug, "changed": changed},
        )
    return found


def _plain(value):
    """A setting's value for the audit log (a version by its id)."""
    return getattr(value, "pk", value)


def train_config_for(*, preset: str, project_overrides: dict, run_overrides: dict):
    """The TrainConfig of a run: preset < deployment overrides < project's < the run's."""
    from training.config import TrainConfig

    overrides = {**settings.EMBER_TRAIN_OVERRIDES, **project_overrides, **run_overrides}
    try:
        return TrainConfig.preset(preset, **overrides)
    except (TypeError, ValueError) as error:
        raise ValueError(f"invalid training config overrides {overrides}: {error}") from error


def training_run_request(
    *,
    project: Project,
    trigger: str,
    actor=None,
    via: Via | None = None,
    variant: str | None = None,
    config_overrides: dict | None = None,
) -> TrainingRun:
    """Queue a retrain; if one is already queued or running, return that one instead. Audited
    as "job.start" either way (actor None: the beat's check or the first-autorater bootstrap)."""
    project_settings = training_settings_for(project)
    variant = variant or project_settings.variant
    if variant not in Variant.values:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(Variant.values)}")
    # Multi-host training is FLAMe's (retraining/hosts.py); the other variants, whose stages
    # (a base, probes, written pairs) run in the worker itself, train on one host.
    hosts = max(1, settings.EMBER_TRAIN_HOSTS) if variant == Variant.FLAME else 1
    config_overrides = dict(config_overrides or {})
    train_config_for(
        preset=settings.EMBER_TRAIN_PRESET,
        project_overrides=project_settings.config_overrides,
        run_overrides=config_overrides,
    )
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        run = project.training_runs.filter(status__in=TrainingRun.ACTIVE).first()
        created = run is None
        if created:
            run = TrainingRun.objects.create(
                project=project,
                trigger=trigger,
                requested_by=actor,
                variant=variant,
                preset=settings.EMBER_TRAIN_PRESET,
                config_overrides=config_overrides,
                enqueued_at=timezone.now(),
                hosts=hosts,
            )
            run_id = run.pk
            transaction.on_commit(lambda: run_enqueue(run_id))
        audit_record(
            action="job.start",
            actor=actor,
            via=via,
            obj=run,
            summary={
                "project": project.slug,
                "trigger": trigger,
                "variant": run.variant,
                "created": created,
            },
        )
    return run


def run_enqueue(run_id: int, resume_token: str | None = None) -> bool:
    """Send the run's message; if the broker is down, the recover check sends it later."""
    from webapp.retraining.tasks import training_run_execute_task

    kwargs = {"resume_token": resume_token} if resume_token else {}
    try:
        training_run_execute_task.apply_async((run_id,), kwargs, retry=False)
    except TRANSIENT_ERRORS as error:
        logger.warning("run %s: broker unreachable (%s); the recover check resends", run_id, error)
        return False
    return True


def training_run_bootstrap(*, project: Project) -> TrainingRun | None:
    """The first autorater: queue a run if the project has no version and none is on the way."""
    if (
        project.autorater_versions.exists()
        or project.training_runs.filter(status__in=TrainingRun.ACTIVE).exists()
    ):
        return None
    return training_run_request(project=project, trigger=TrainingRun.Trigger.BOOTSTRAP)


def training_run_cancel(*, run: TrainingRun, actor=None, via: Via | None = None) -> TrainingRun:
    """Queued: cancelled now. Running: the worker stops at its next step (keeping a checkpoint).
    Audited as "job.cancel"."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status == TrainingRun.Status.QUEUED:
            run.status = TrainingRun.Status.CANCELLED
            run.finished_at = timezone.now()
            run.phase = TrainingRun.Phase.CANCELLED
        elif run.status == TrainingRun.Status.RUNNING:
            run.cancel_requested = True
        run.save()
        audit_record(
            action="job.cancel",
            actor=actor,
            via=via,
            obj=run,
            summary={"project": run.project.slug, "status": run.status},
        )
    return run
