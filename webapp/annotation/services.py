"""Writes for annotation: items, claims and human labels."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from judging.task_format import FORMAT_VERSION, Example, Task, render_prompt, validate_example
from webapp.annotation.models import Annotation, Assignment, Item, Project, TaskDefinition

LABEL_NOT_IN_TASK = "Label {label!r} is not one of this task's labels {labels}."
SUBMISSION_KEY_REUSED = "This submission key was already used for another item or rater."


def task_definition_upsert(*, project: Project, task: Task) -> TaskDefinition:
    definition, _ = TaskDefinition.objects.update_or_create(
        project=project,
        name=task.name,
        defaults={
            "type": str(task.type),
            "title": task.title,
            "description": task.description,
            "context_fields": list(task.context_fields),
            "output_fields": list(task.output_fields),
            "labels": list(task.labels),
            "scale": list(task.scale) if task.scale else None,
        },
    )
    return definition


def item_content_hash(example: Example) -> str:
    """An item's identity in its project: source id, task, context and reference. Importing the
    same example twice finds it; two judgments of identical text with different ids stay two."""
    payload = json.dumps(
        {
            "id": example.id,
            "task": example.task,
            "context": example.context,
            "reference": example.reference,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def items_create(
    *,
    project: Project,
    definition: TaskDefinition,
    examples: Iterable[Example],
    heldout_ids: set[str] = frozenset(),
) -> int:
    """Create items from examples, atomically; items already present are skipped. Returns #new."""
    task = Task.from_dict(definition.as_task_dict())
    rows = []
    for example in examples:
        validate_example(task, example)
        rows.append(
            Item(
                project=project,
                task=definition,
                external_id=example.id or item_content_hash(example)[:16],
                context=example.context,
                reference=example.reference or "",
                gold_label=example.label or "",
                split=Item.Split.HELDOUT if example.id in heldout_ids else Item.Split.TRAIN,
                flame_prompt=render_prompt(task, example),
                format_version=FORMAT_VERSION,
                content_hash=item_content_hash(example),
                provenance=example.provenance,
            )
        )
    with transaction.atomic():
        before = Item.objects.filter(project=project).count()
        Item.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        return Item.objects.filter(project=project).count() - before


def _open_items_for(project: Project, rater, now) -> object:
    """Items this rater may take now: not labelled by them, with room for another rater."""
    labels = (
        Annotation.objects.filter(item=OuterRef("pk"))
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    claims = (
        Assignment.objects.filter(item=OuterRef("pk"), expires_at__gt=now)
        .exclude(rater=rater)
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Item.objects.filter(project=project)
        .exclude(Exists(Annotation.objects.filter(item=OuterRef("pk"), annotator=rater)))
        .annotate(
            n_labels=Coalesce(Subquery(labels, output_field=IntegerField()), Value(0)),
            n_claims=Coalesce(Subquery(claims, output_field=IntegerField()), Value(0)),
        )
        .filter(Q(n_labels__lt=project.raters_per_item - F("n_claims")))
    )


def assignment_claim_next(*, project: Project, rater) -> Item | None:
    """Claim the next item for a rater with an expiring lock (skip_locked: no double hand-out)."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.EMBER_CLAIM_SECONDS)
    with transaction.atomic():
        held = (
            Assignment.objects.filter(rater=rater, item__project=project, expires_at__gt=now)
            .exclude(item__annotations__annotator=rater)
            .select_related("item", "item__task")
            .order_by("created_at")
            .first()
        )
        if held is not None:
            return held.item
        item = (
            _open_items_for(project, rater, now)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("id")
            .first()
        )
        if item is None:
            return None
        Assignment.objects.update_or_create(
            item=item, rater=rater, defaults={"expires_at": expires}
        )
        return item


def annotation_submit(
    *,
    item: Item,
    annotator,
    label: str,
    submission_key: str,
    seconds_spent: float | None = None,
) -> tuple[Annotation, bool]:
    """Store a human label in the request. Idempotent: a retry or double-click stores one label.

    Returns (annotation, created). The first label a rater gives an item stands.
    """
    labels = list(item.task.labels)
    if labels and label not in labels:
        raise ValidationError(LABEL_NOT_IN_TASK.format(label=label, labels=labels))
    previous = Annotation.objects.filter(submission_key=submission_key).first()
    if previous is not None:
        if previous.item_id != item.id or previous.annotator_id != annotator.id:
            raise ValidationError(SUBMISSION_KEY_REUSED)
        return previous, False
    try:
        with transaction.atomic():
            annotation = Annotation.objects.create(
                item=item,
                annotator=annotator,
                label=label,
                submission_key=submission_key,
                seconds_spent=seconds_spent,
            )
            Assignment.objects.filter(item=item, rater=annotator).delete()
    except IntegrityError:
        return Annotation.objects.get(item=item, annotator=annotator), False
    from webapp.autoraters.services import judgments_ensure

    transaction.on_commit(lambda: judgments_ensure(project_id=item.project_id, item_ids=[item.id]))
    return annotation, True
