"""Writes for annotation: projects, task definitions and items, and an item's settled answer
(adjudication, gold). The rater's writes (claims, labels) are in rater_services."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from judging.task_format import (
    FORMAT_VERSION,
    Example,
    Task,
    render_prompt,
    validate_example,
)
from webapp.annotation.models import (
    Item,
    Membership,
    Project,
    TaskDefinition,
)
from webapp.annotation.rater_services import label_validate
from webapp.annotation.selectors import item_count_key
from webapp.audit.services import Via, audit_record

GOLD_NEEDS_ANSWER = "A gold item needs its known answer: give the label."


def project_create(
    *,
    name: str,
    slug: str,
    description: str = "",
    raters_per_item: int = 1,
    actor=None,
    via: Via | None = None,
) -> Project:
    """A new project. Audited as "project.create". IntegrityError when the slug is taken."""
    with transaction.atomic():
        project = Project.objects.create(
            name=name, slug=slug, description=description, raters_per_item=raters_per_item
        )
        if actor is not None and actor.is_authenticated:
            # Whoever creates a project administers it.
            Membership.objects.create(project=project, user=actor, role=Membership.Role.ADMIN)
        audit_record(
            action="project.create", actor=actor, via=via, obj=project, summary={"slug": slug}
        )
    return project


def project_save(*, project: Project) -> Project:
    """Save a project (new or changed, e.g. from the admin). When its raters_per_item (k)
    changes, which items still need labels changes with it: items reopen or close."""
    with transaction.atomic():
        stored = None
        if project.pk is not None:
            stored = (
                Project.objects.select_for_update()
                .filter(pk=project.pk)
                .values_list("raters_per_item", flat=True)
                .first()
            )
        project.save()
        if stored is not None and stored != project.raters_per_item:
            k = project.raters_per_item
            project.items.filter(is_open=True, label_count__gte=k).update(is_open=False)
            project.items.filter(is_open=False, label_count__lt=k).update(is_open=True)
    return project


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
        transaction.on_commit(lambda: cache.delete(item_count_key(project.pk)))
        return Item.objects.filter(project=project).count() - before


def item_adjudicate(*, item: Item, actor, label: str, via: Via | None = None) -> Item:
    """Settle a disagreement: the adjudicated label becomes the item's gold label (`actor`, the
    analyst or admin, is recorded as its adjudicator). Every rater's label stays, so the full
    distribution is kept for export. Audited as "item.adjudicate"."""
    label = label_validate(Task.from_dict(item.task.as_task_dict()), label)
    with transaction.atomic():
        item = Item.objects.select_for_update().select_related("project").get(pk=item.pk)
        previous = item.gold_label
        item.gold_label = label
        item.adjudicated_by = actor
        item.adjudicated_at = timezone.now()
        item.save(update_fields=["gold_label", "adjudicated_by", "adjudicated_at", "updated_at"])
        audit_record(
            action="item.adjudicate",
            actor=actor,
            via=via,
            obj=item,
            summary={"project": item.project.slug, "label": label, "previous": previous},
        )
    return item


def item_gold_set(
    *, item: Item, actor, is_gold: bool, label: str = "", via: Via | None = None
) -> Item:
    """Mark an item gold with its known answer (`label`, else the gold label it has), or unmark
    it (its gold label stays: it may be an adjudication or an imported answer). Rater accuracy
    is measured on gold items. Audited as "item.gold"."""
    if is_gold:
        label = label.strip() or item.gold_label
        if not label:
            raise ValidationError(GOLD_NEEDS_ANSWER)
        label = label_validate(Task.from_dict(item.task.as_task_dict()), label)
    with transaction.atomic():
        item = Item.objects.select_for_update().select_related("project", "task").get(pk=item.pk)
        previous = {"was_gold": item.is_gold, "previous": item.gold_label}
        item.is_gold = is_gold
        if is_gold:
            item.gold_label = label
        item.save(update_fields=["is_gold", "gold_label", "updated_at"])
        audit_record(
            action="item.gold",
            actor=actor,
            via=via,
            obj=item,
            summary={
                "project": item.project.slug,
                "is_gold": is_gold,
                "label": item.gold_label,
                **previous,
            },
        )
    return item
