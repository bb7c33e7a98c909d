"""Writes for annotation: items, claims and human labels."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from judging.task_format import (
    FORMAT_VERSION,
    Example,
    Task,
    TaskType,
    render_prompt,
    validate_example,
)
from webapp.annotation.models import Annotation, Assignment, Item, Project, Skip, TaskDefinition

LABEL_NOT_IN_TASK = "Label {label!r} is not one of this task's labels {labels}."
LABEL_EMPTY = "Write an answer before submitting."
LABEL_NOT_A_NUMBER = "Label {label!r} is not a number."
LABEL_OUTSIDE_SCALE = "Label {label} is outside the scale [{low:g}, {high:g}]."
CONFIDENCE_RANGE = "Confidence must be 1, 2 or 3."
SUBMISSION_KEY_REUSED = "This submission key was already used for another item or rater."
NOTHING_TO_REVISE = "There is no label of yours on this item to change."
UNKNOWN_TAG = "Unknown disagreement tag {tag!r}."


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


def item_build(
    *,
    project: Project,
    definition: TaskDefinition,
    task: Task,
    example: Example,
    heldout: bool = False,
    is_gold: bool = False,
) -> Item:
    """An unsaved Item for an example, with its FLAMe rendering and content hash."""
    return Item(
        project=project,
        task=definition,
        external_id=example.id or item_content_hash(example)[:16],
        context=example.context,
        reference=example.reference or "",
        gold_label=example.label or "",
        label_distribution=example.label_distribution,
        split=Item.Split.HELDOUT if heldout else Item.Split.TRAIN,
        is_gold=is_gold and bool(example.label),
        flame_prompt=render_prompt(task, example),
        format_version=FORMAT_VERSION,
        content_hash=item_content_hash(example),
        provenance=example.provenance,
    )


def items_create(
    *,
    project: Project,
    definition: TaskDefinition,
    examples: Iterable[Example],
    heldout_ids: set[str] = frozenset(),
    is_gold: bool = False,
) -> int:
    """Create items from examples, atomically; items already present are skipped. Returns #new."""
    task = Task.from_dict(definition.as_task_dict())
    rows = []
    for example in examples:
        validate_example(task, example)
        rows.append(
            item_build(
                project=project,
                definition=definition,
                task=task,
                example=example,
                heldout=example.id in heldout_ids,
                is_gold=is_gold,
            )
        )
    with transaction.atomic():
        before = Item.objects.filter(project=project).count()
        Item.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        return Item.objects.filter(project=project).count() - before


def _open_items_for(project: Project, rater, now) -> QuerySet[Item]:
    """Items this rater may take now: still open, not labelled or skipped by them, with room for
    another rater (current labels plus other raters' live claims stay under the project's k).
    Walks the partial index of open items in the project's routing order."""
    claims = (
        Assignment.objects.filter(item=OuterRef("pk"), expires_at__gt=now)
        .exclude(rater=rater)
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    order = ("id",)
    if project.routing == Project.Routing.UNCERTAINTY_FIRST:
        order = ("-route_priority", "id")
    return (
        Item.objects.filter(project=project, is_open=True)
        .exclude(Exists(Annotation.objects.filter(item=OuterRef("pk"), annotator=rater)))
        .exclude(Exists(Skip.objects.filter(item=OuterRef("pk"), rater=rater)))
        .alias(n_claims=Coalesce(Subquery(claims, output_field=IntegerField()), Value(0)))
        .filter(label_count__lt=project.raters_per_item - F("n_claims"))
        .order_by(*order)
    )


def _claim_sql() -> str:
    """Take (or renew) a claim on a locked item if there is still room on it. Run as its own
    statement after the row lock is held, so it sees every claim committed before: a claimer
    that found the row unlocked could otherwise act on a snapshot from before the last
    claimer's commit and hand the item out once too often."""
    assignment, annotation = Assignment._meta.db_table, Annotation._meta.db_table
    return f"""
        INSERT INTO {assignment} (created_at, updated_at, item_id, rater_id, expires_at)
        SELECT %(now)s, %(now)s, i.id, %(rater)s, %(expires)s
        FROM {Item._meta.db_table} i
        WHERE i.id = %(item)s
          AND NOT EXISTS (SELECT 1 FROM {annotation} a
                          WHERE a.item_id = i.id AND a.annotator_id = %(rater)s)
          AND i.label_count + (SELECT COUNT(*) FROM {assignment} c
                               WHERE c.item_id = i.id AND c.rater_id <> %(rater)s
                                 AND c.expires_at > %(now)s) < %(k)s
        ON CONFLICT (item_id, rater_id)
        DO UPDATE SET expires_at = excluded.expires_at, updated_at = excluded.updated_at
        RETURNING item_id
    """


def _held_claim(*, project: Project, rater, now, exclude_item_ids) -> Item | None:
    """The rater's own live claim on an item they have not labelled or skipped yet."""
    return (
        Item.objects.filter(
            project=project,
            pk__in=Assignment.objects.filter(rater=rater, expires_at__gt=now)
            .exclude(item_id__in=exclude_item_ids)
            .values("item_id"),
        )
        .exclude(Exists(Annotation.objects.filter(item=OuterRef("pk"), annotator=rater)))
        .exclude(Exists(Skip.objects.filter(item=OuterRef("pk"), rater=rater)))
        .select_related("task")
        .order_by("id")
        .first()
    )


CLAIM_ATTEMPTS = 5


def assignment_claim_next(*, project: Project, rater, exclude_item_ids=()) -> Item | None:
    """Claim the next item for a rater with an expiring lock (skip_locked: no double hand-out).

    A rater's own live claim comes back first (a reload shows the same item); items in
    `exclude_item_ids` (the one on screen, when preloading the next) are passed over. The
    project's `routing` picks the order: import order, or the autorater's least sure first.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=settings.EMBER_CLAIM_SECONDS)
    passed = list(exclude_item_ids)
    held = _held_claim(project=project, rater=rater, now=now, exclude_item_ids=passed)
    if held is not None:
        return held
    for _ in range(CLAIM_ATTEMPTS):
        with transaction.atomic():
            item = (
                _open_items_for(project, rater, now)
                .exclude(pk__in=passed)
                .select_related("task")
                .select_for_update(skip_locked=True, of=("self",))
                .first()
            )
            if item is None:
                return None
            with connection.cursor() as cursor:
                cursor.execute(
                    _claim_sql(),
                    {
                        "now": now,
                        "expires": expires,
                        "item": item.pk,
                        "rater": rater.pk,
                        "k": project.raters_per_item,
                    },
                )
                if cursor.fetchone() is not None:
                    return item
        passed.append(item.pk)  # filled up by a claim committed meanwhile: take the next
    return None


def label_validate(task: Task, label: str) -> str:
    """The label as stored, or ValidationError saying why it does not fit the task."""
    label = label.strip()
    if task.type is TaskType.OPEN_ENDED:
        if not label:
            raise ValidationError(LABEL_EMPTY)
        return label
    if task.scale is not None:
        try:
            value = float(label)
        except ValueError as error:
            raise ValidationError(LABEL_NOT_A_NUMBER.format(label=label)) from error
        low, high = task.scale
        if not low <= value <= high:
            raise ValidationError(LABEL_OUTSIDE_SCALE.format(label=label, low=low, high=high))
        return f"{value:g}"
    if label not in task.labels:
        raise ValidationError(LABEL_NOT_IN_TASK.format(label=label, labels=list(task.labels)))
    return label


def _by_submission_key(submission_key: str, item: Item, annotator) -> Annotation | None:
    previous = Annotation.objects.filter(submission_key=submission_key).first()
    if previous is not None and (
        previous.item_id != item.id or previous.annotator_id != annotator.id
    ):
        raise ValidationError(SUBMISSION_KEY_REUSED)
    return previous


def _item_labelled(item: Item) -> None:
    """One more rater labelled the item: count it and close it once it has the project's k."""
    k = Project.objects.filter(pk=OuterRef("project_id")).values("raters_per_item")
    Item.objects.filter(pk=item.pk).update(
        label_count=F("label_count") + 1, is_open=Q(label_count__lt=Subquery(k) - 1)
    )


def annotation_submit(
    *,
    item: Item,
    annotator,
    label: str,
    submission_key: str,
    confidence: int | None = None,
    reason: str = "",
    seconds_spent: float | None = None,
) -> tuple[Annotation, bool]:
    """Store a human label in the request. Idempotent: a retry, a double-click or a second tab
    stores one label. Returns (annotation, created); the rater's current label stands (an edit
    goes through `annotation_revise`). The item's label count and the rater's claim change in
    the same transaction as the label."""
    label = label_validate(Task.from_dict(item.task.as_task_dict()), label)
    if confidence is not None and not 1 <= confidence <= 3:
        raise ValidationError(CONFIDENCE_RANGE)
    try:
        # Optimistic: the unique constraints (submission key; one current label per rater)
        # catch a retry or a second tab, so the common case is one INSERT.
        with transaction.atomic():
            annotation = Annotation.objects.create(
                item=item,
                annotator=annotator,
                label=label,
                confidence=confidence,
                reason=reason.strip(),
                submission_key=submission_key,
                seconds_spent=seconds_spent,
            )
            _item_labelled(item)
            Assignment.objects.filter(item=item, rater=annotator).delete()
    except IntegrityError:
        previous = _by_submission_key(submission_key, item, annotator)
        if previous is not None:
            return previous, False
        current = Annotation.objects.get(item=item, annotator=annotator, is_current=True)
        return current, False
    from webapp.autoraters.services import judgments_ensure

    transaction.on_commit(lambda: judgments_ensure(project_id=item.project_id, item_ids=[item.id]))
    return annotation, True


def annotation_revise(
    *, item: Item, annotator, label: str, submission_key: str, reason: str = ""
) -> tuple[Annotation, bool]:
    """Change a rater's label: a new revision (who and when); the old one is kept."""
    label = label_validate(Task.from_dict(item.task.as_task_dict()), label)
    previous = _by_submission_key(submission_key, item, annotator)
    if previous is not None:
        return previous, False
    with transaction.atomic():
        current = (
            Annotation.objects.select_for_update()
            .filter(item=item, annotator=annotator, is_current=True)
            .first()
        )
        if current is None:
            raise ValidationError(NOTHING_TO_REVISE)
        if current.label == label:
            return current, False
        current.is_current = False
        current.save(update_fields=["is_current", "updated_at"])
        revision = Annotation.objects.create(
            item=item,
            annotator=annotator,
            label=label,
            revision=current.revision + 1,
            reason=reason.strip(),
            submission_key=submission_key,
        )
    return revision, True


def annotation_skip(*, item: Item, rater, flagged: bool = False, reason: str = "") -> Skip:
    """Pass on an item (optionally flagging it as a bad item); it is not offered again."""
    with transaction.atomic():
        skip, created = Skip.objects.get_or_create(
            item=item, rater=rater, defaults={"flagged": flagged, "reason": reason.strip()}
        )
        if not created and flagged and not skip.flagged:
            skip.flagged, skip.reason = True, reason.strip()
            skip.save(update_fields=["flagged", "reason", "updated_at"])
        Assignment.objects.filter(item=item, rater=rater).delete()
    return skip


def annotation_tag_disagreement(*, annotation: Annotation, tag: str) -> Annotation:
    """Say why the rater disagrees with the autorater (metadata; the label is untouched)."""
    if tag not in Annotation.DisagreementTag.values:
        raise ValidationError(UNKNOWN_TAG.format(tag=tag))
    if annotation.disagreement_tag != tag:
        annotation.disagreement_tag = tag
        annotation.save(update_fields=["disagreement_tag", "updated_at"])
    return annotation


def item_adjudicate(*, item: Item, adjudicator, label: str) -> Item:
    """Settle a disagreement: the adjudicated label becomes the item's gold label. Every rater's
    label stays, so the full distribution is kept for export."""
    label = label_validate(Task.from_dict(item.task.as_task_dict()), label)
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item.pk)
        item.gold_label = label
        item.adjudicated_by = adjudicator
        item.adjudicated_at = timezone.now()
        item.save(update_fields=["gold_label", "adjudicated_by", "adjudicated_at", "updated_at"])
    return item
