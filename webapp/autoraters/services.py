"""Writes for autoraters: versions, promotion and rollback (audited), and judgments from the
judge worker."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from webapp.annotation.models import Item, Project
from webapp.annotation.routing import route_priorities_set
from webapp.annotation.selectors import item_example, task_of
from webapp.audit.services import Via, audit_record
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.autoraters.selectors import version_promoted_for

logger = logging.getLogger(__name__)


def version_register(
    *,
    project: Project,
    training_run,
    checkpoint_dir: str,
    snapshot_hash: str,
    config: dict,
    metrics: dict,
    incumbent_metrics: dict,
    parent: AutoraterVersion | None,
    variant: str = "",
    mixture_weights: dict | None = None,
    gate: dict | None = None,
) -> AutoraterVersion:
    """Register a trained version with its lineage. A run registers one version at most: a run
    that resumes after registering gets the same version back (never a duplicate)."""
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        if training_run is not None:
            existing = AutoraterVersion.objects.filter(training_run=training_run).first()
            if existing is not None:
                return existing
        number = (project.autorater_versions.aggregate(n=Max("number"))["n"] or 0) + 1
        return AutoraterVersion.objects.create(
            project=project,
            number=number,
            training_run=training_run,
            checkpoint_dir=checkpoint_dir,
            snapshot_hash=snapshot_hash,
            config=config,
            metrics=metrics,
            incumbent_metrics=incumbent_metrics,
            parent=parent,
            variant=variant,
            mixture_weights=mixture_weights or {},
            gate=gate or {},
        )


def version_rollback(*, project: Project, actor=None, via: Via | None = None) -> AutoraterVersion:
    """Put the version that was live before the current one back (by hand). Audited as
    "version.rollback"; ValueError (nothing written) when no version was live before.

    Rollback walks back: the version rolled back from becomes ROLLED_BACK, never a rollback
    target again, so v3 -> v2 -> v1 (not v2 <-> v3); the target is the most recently live
    RETIRED version. Promoting a rolled-back version by hand makes it live again and, once
    retired by a later promotion, part of the normal history."""
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)  # one rollback at a time
        live = version_promoted_for(project.pk)
        previous = (
            AutoraterVersion.objects.filter(
                project=project, status=AutoraterVersion.Status.RETIRED, promoted_at__isnull=False
            )
            .exclude(pk=getattr(live, "pk", None))
            .order_by("-promoted_at")
            .first()
        )
        if previous is None:
            raise ValueError("nothing earlier to roll back to: no earlier live version is left")
        if live is not None:
            AutoraterVersion.objects.filter(pk=live.pk).update(
                status=AutoraterVersion.Status.ROLLED_BACK, updated_at=timezone.now()
            )
        version = _promote(previous)
        audit_record(
            action="version.rollback",
            actor=actor,
            via=via,
            obj=version,
            summary={
                "project": project.slug,
                "number": version.number,
                "from": live.number if live is not None else None,
            },
        )
    return version


def version_promote(
    *, version: AutoraterVersion, actor=None, via: Via | None = None
) -> AutoraterVersion:
    """Make this version the project's live autorater and have it re-judge every item (in
    batches on the judge queue). Audited as "version.promote" (by hand, through the API, or by
    the gate: actor None)."""
    with transaction.atomic():
        version = _promote(version)
        audit_record(
            action="version.promote",
            actor=actor,
            via=via,
            obj=version,
            summary={"project": version.project.slug, "number": version.number},
        )
    return version


def _promote(version: AutoraterVersion) -> AutoraterVersion:
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=version.project_id)
        version.refresh_from_db()
        if version.status == AutoraterVersion.Status.PROMOTED:
            return version
        AutoraterVersion.objects.filter(
            project_id=version.project_id, status=AutoraterVersion.Status.PROMOTED
        ).update(status=AutoraterVersion.Status.RETIRED)
        version.status = AutoraterVersion.Status.PROMOTED
        version.promoted_at = timezone.now()
        version.save(update_fields=["status", "promoted_at", "updated_at"])
        item_ids = list(
            Item.objects.filter(project_id=version.project_id).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: judgments_enqueue(version=version, item_ids=item_ids))
    return version


def judgments_enqueue(*, version: AutoraterVersion, item_ids: Sequence[int]) -> int:
    from webapp.autoraters.tasks import judge_items_task

    batch = settings.EMBER_JUDGE_BATCH
    batches = [list(item_ids[i : i + batch]) for i in range(0, len(item_ids), batch)]
    for sent, chunk in enumerate(batches):
        try:
            judge_items_task.apply_async((version.pk, chunk), retry=False)
        except (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError) as error:
            # The broker is down: what was written stays written; the jobs recover check
            # (beat) sends the live version's missing judgments once the broker is back.
            logger.warning("judging not queued (%s); the recover check will send it", error)
            return sent
    return len(batches)


def judgments_ensure(*, project_id: int, item_ids: Sequence[int]) -> int:
    """Queue judging for items the live autorater has not judged yet."""
    version = version_promoted_for(project_id)
    if version is None:
        return 0
    judged = set(
        ModelJudgment.objects.filter(version=version, item_id__in=item_ids).values_list(
            "item_id", flat=True
        )
    )
    missing = [item_id for item_id in item_ids if item_id not in judged]
    return judgments_enqueue(version=version, item_ids=missing) if missing else 0


@functools.lru_cache(maxsize=2)
def _judge_for(checkpoint_dir: str):
    """Load a judge once per worker process and keep it (jit caches stay warm)."""
    from judging.inference import Judge

    return Judge.load(checkpoint_dir)


def judge_items(*, version_id: int, item_ids: Sequence[int]) -> int:
    """Score items with a version (both orders for pairwise) and store the verdicts. For the
    live version, the items' routing priorities then follow its verdicts, the ones it gave
    before too (a version promoted again, or rolled back to, has judged them already).
    Returns the number of new verdicts."""
    version = AutoraterVersion.objects.filter(pk=version_id).first()
    if version is None:
        return 0
    judged = _judge_new_items(version, item_ids)
    if version.status == AutoraterVersion.Status.PROMOTED:
        # Uncertainty-first routing follows the live autorater.
        route_priorities_set(ModelJudgment.objects.filter(version=version, item_id__in=item_ids))
    return judged


def _judge_new_items(version: AutoraterVersion, item_ids: Sequence[int]) -> int:
    already = set(
        ModelJudgment.objects.filter(version=version, item_id__in=item_ids).values_list(
            "item_id", flat=True
        )
    )
    items = list(
        Item.objects.filter(pk__in=item_ids)
        .exclude(pk__in=already)
        .select_related("task")
        .order_by("pk")
    )
    if not items:
        return 0
    tasks = {item.task.name: task_of(item.task) for item in items}
    examples = [item_example(item) for item in items]
    verdicts = _judge_for(version.checkpoint_dir).judge(tasks, examples)
    rows = [
        ModelJudgment(
            item=item,
            version=version,
            label=verdict.label or "",
            confidence=verdict.confidence,
            probabilities=verdict.probabilities,
            order_probabilities=verdict.order_probabilities,
            consistent=verdict.consistent,
            valid=verdict.valid,
            format_version=verdict.format_version,
            explanation=verdict.explanation or "",
        )
        for item, verdict in zip(items, verdicts, strict=True)
    ]
    ModelJudgment.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
