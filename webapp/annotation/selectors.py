"""Reads for annotation."""

from __future__ import annotations

from django.db.models import QuerySet

from judging.task_format import Example, Task
from webapp.annotation.models import Annotation, Item, Project


def user_is_admin(user) -> bool:
    return user.is_superuser or user.groups.filter(name="admin").exists()


def project_list_for_user(user) -> QuerySet[Project]:
    if user_is_admin(user):
        return Project.objects.all()
    return Project.objects.filter(raters=user)


def project_progress(*, project: Project, user) -> dict[str, int]:
    total = Item.objects.filter(project=project).count()
    done = Annotation.objects.filter(item__project=project, annotator=user).count()
    return {
        "total": total,
        "done": done,
        "labels": Annotation.objects.filter(item__project=project).count(),
    }


def annotation_for(*, item: Item, user) -> Annotation | None:
    return Annotation.objects.filter(item=item, annotator=user).first()


def task_of(definition) -> Task:
    return Task.from_dict(definition.as_task_dict())


def item_example(
    item: Item, *, label: str | None = None, provenance: dict | None = None
) -> Example:
    """The item as a judging Example (label: the gold label unless one is given)."""
    return Example(
        task=item.task.name,
        id=f"item-{item.pk}",
        context=dict(item.context),
        reference=item.reference or None,
        label=label if label is not None else (item.gold_label or None),
        provenance=provenance if provenance is not None else {"item": item.pk, **item.provenance},
    )
