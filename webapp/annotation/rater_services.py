"""Writes on the rater's path: claiming the next item (the queue's hot path, its SQL in
queue_sql) and storing a rater's labels, revisions, skips and disagreement tags."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from judging.task_format import Task, TaskType
from webapp.annotation import queue_sql
from webapp.annotation.models import Annotation, Assignment, Item, Project, Skip
from webapp.annotation.queue_sql import excluded_params
from webapp.annotation.selectors import item_of_project

LABEL_NOT_IN_TASK = "Label {label!r} is not one of this task's labels {labels}."
LABEL_EMPTY = "Write an answer before submitting."
LABEL_NOT_A_NUMBER = "Label {label!r} is not a number."
LABEL_OUTSIDE_SCALE = "Label {label} is outside the scale [{low:g}, {high:g}]."
CONFIDENCE_RANGE = "Confidence must be 1, 2 or 3."
SUBMISSION_KEY_REUSED = "This submission key was already used for another item or rater."
NOTHING_TO_REVISE = "There is no label of yours on this item to change."
UNKNOWN_TAG = "Unknown disagreement tag {tag!r}."


CLAIM_ATTEMPTS = 5


def _first_id(sql: str, params: dict) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _claimed(item_id: int, project: Project) -> Item:
    return item_of_project(item_id=item_id, project=project)


def assignment_claim_next(*, project: Project, rater, exclude_item_ids=()) -> Item | None:
    """Claim the next item for a rater with an expiring lock (skip_locked: no double hand-out).

    A rater's own live claim comes back first (a reload shows the same item); items in
    `exclude_item_ids` (the one on screen, when preloading the next) are passed over. Open
    items are those with fewer current labels plus other raters' live claims than the
    project's k; the project's `routing` picks the order among them: import order, or the
    live autorater's least sure first. The statements are in `queue_sql`.
    """
    now = timezone.now()
    passed = [int(pk) for pk in exclude_item_ids]
    params = {"rater": rater.pk, "project": project.pk, "now": now}
    held = _first_id(queue_sql.held_sql(len(passed)), {**params, **excluded_params(passed)})
    if held is not None:
        return _claimed(held, project)
    params.update(
        k=project.raters_per_item,
        expires=now + timedelta(seconds=settings.EMBER_CLAIM_SECONDS),
    )
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _ in range(CLAIM_ATTEMPTS):
        with transaction.atomic():
            pick = queue_sql.pick_sql(len(passed), project.routing, skip_locked)
            item_id = _first_id(pick, {**params, **excluded_params(passed)})
            if item_id is None and skip_locked:
                # Every open item left is being claimed at this moment (by another rater, or
                # by this rater's other request: the preload of the next item). Wait for
                # those claims rather than answer "nothing left" while an item is still there;
                # CLAIM_SQL then decides on what they committed.
                pick = queue_sql.pick_sql(len(passed), project.routing, False, wait=True)
                item_id = _first_id(pick, {**params, **excluded_params(passed)})
            if item_id is None:
                return None
            if _first_id(queue_sql.CLAIM_SQL, {**params, "item": item_id}) is not None:
                return _claimed(item_id, project)
        passed.append(item_id)  # filled up by a claim committed meanwhile: take the next
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


def seconds_on_item(
    *, claim: tuple[datetime, datetime] | None, client_seconds: float | None = None, now=None
) -> float | None:
    """A rater's time on an item, in seconds, for the speed on the Insights rater page.

    The source is the server: from the rater's claim on the item to now (the label arriving),
    with no trust in the client. `claim` is the claim's (updated_at, expires_at): CLAIM_SQL
    sets updated_at when it hands the item out (first time, or renewed after expiry), so it is
    when the rater got the item. The page shows it then, or later when it was preloaded behind
    the previous item's reveal: the server's time is an upper bound. It counts to the claim's
    expiry at most (past it the item was no longer held for the rater: an abandoned, later
    resumed item records the claim's length, EMBER_CLAIM_SECONDS).

    `client_seconds`, the time the rater screen (static/ember.js) measured the item as
    visible, only ever narrows that: a finite, non-negative value is clamped to the server's
    time; anything else is ignored. No claim (a label stored without one, e.g. by a script)
    gives None, which the medians leave out. A revision (`annotation_revise`) records None
    too: the item is not claimed again, and re-reading one's own label is not labelling speed.
    """
    if claim is None:
        return None
    taken, expires = claim
    now = now or timezone.now()
    server = max(0.0, (min(now, expires) - taken).total_seconds())
    if isinstance(client_seconds, int | float) and math.isfinite(client_seconds):
        if client_seconds >= 0:
            return min(float(client_seconds), server)
    return server


def annotation_submit(
    *,
    item: Item,
    annotator,
    label: str,
    submission_key: str,
    confidence: int | None = None,
    reason: str = "",
    client_seconds: float | None = None,
) -> tuple[Annotation, bool]:
    """Store a human label in the request. Idempotent: a retry, a double-click or a second tab
    stores one label. Returns (annotation, created); the rater's current label stands (an edit
    goes through `annotation_revise`). The item's label count and the rater's claim change in
    the same transaction as the label.

    The label records the rater's time on the item (`seconds_spent`, see `seconds_on_item`):
    from their claim (when the item was handed to them) to this submission, measured on the
    server, optionally narrowed by `client_seconds`, the time the page reports the item was
    visible (untrusted: only ever lowers the server's figure)."""
    label = label_validate(Task.from_dict(item.task.as_task_dict()), label)
    if confidence is not None and not 1 <= confidence <= 3:
        raise ValidationError(CONFIDENCE_RANGE)
    try:
        # Optimistic: the unique constraints (submission key; one current label per rater)
        # catch a retry or a second tab, so the common case is one INSERT.
        with transaction.atomic():
            claim = (
                Assignment.objects.filter(item_id=item.pk, rater_id=annotator.pk)
                .values_list("updated_at", "expires_at")
                .first()
            )
            annotation = Annotation.objects.create(
                item=item,
                annotator=annotator,
                label=label,
                confidence=confidence,
                reason=reason.strip(),
                submission_key=submission_key,
                seconds_spent=seconds_on_item(claim=claim, client_seconds=client_seconds),
            )
            with connection.cursor() as cursor:
                cursor.execute(queue_sql.LABELLED_SQL, {"item": item.pk})
                cursor.execute(queue_sql.RELEASE_SQL, {"item": item.pk, "rater": annotator.pk})
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
