"""Reads for annotation."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from judging.task_format import Example, Task
from webapp.annotation.models import Annotation, Item, Project, Skip


def user_is_admin(user) -> bool:
    return user.is_superuser or user.groups.filter(name="admin").exists()


def project_list_for_user(user) -> QuerySet[Project]:
    if user_is_admin(user):
        return Project.objects.all()
    return Project.objects.filter(raters=user)


def projects_with_membership(user) -> QuerySet[Project]:
    """Projects with `user_is_rater` (one query with the project: the check on every claim)."""
    membership = Project.raters.through.objects.filter(project_id=OuterRef("pk"), user_id=user.pk)
    return Project.objects.annotate(user_is_rater=Exists(membership))


def user_can_adjudicate(user) -> bool:
    return user_is_admin(user) or user.groups.filter(name="analyst").exists()


def project_item_count(project: Project) -> int:
    """Items in a project, cached briefly: counting a million rows on every claim is too slow."""
    key = f"project-item-count:{project.pk}"
    total = cache.get(key)
    if total is None:
        total = Item.objects.filter(project=project).count()
        cache.set(key, total, timeout=30)
    return total


def project_progress(*, project: Project, user) -> dict[str, int]:
    total = project_item_count(project)
    done = Annotation.objects.filter(item__project=project, annotator=user, is_current=True).count()
    skipped = Skip.objects.filter(item__project=project, rater=user).count()
    return {"total": total, "done": done, "skipped": skipped}


def annotation_for(*, item: Item, user) -> Annotation | None:
    return Annotation.objects.filter(item=item, annotator=user, is_current=True).first()


def annotation_history(*, item: Item, user) -> QuerySet[Annotation]:
    return Annotation.objects.filter(item=item, annotator=user).order_by("revision")


def items_needing_adjudication(project: Project) -> QuerySet[Item]:
    """Items whose current human labels disagree and that nobody has adjudicated yet."""
    return (
        Item.objects.filter(project=project, adjudicated_at__isnull=True)
        .annotate(
            n_labels=Count("annotations", filter=Q(annotations__is_current=True)),
            n_distinct=Count(
                "annotations__label", filter=Q(annotations__is_current=True), distinct=True
            ),
        )
        .filter(n_labels__gte=2, n_distinct__gte=2)
        .select_related("task")
        .order_by("pk")
    )


def current_labels(item: Item) -> QuerySet[Annotation]:
    return (
        Annotation.objects.filter(item=item, is_current=True)
        .select_related("annotator")
        .order_by("created_at")
    )


def rater_gold_accuracy(*, project: Project, user) -> dict[str, float | int | None]:
    """The rater's accuracy on gold items (known answers) of the project (one aggregate)."""
    counts = Annotation.objects.filter(
        item__project=project, item__is_gold=True, annotator=user, is_current=True
    ).aggregate(n=Count("pk"), right=Count("pk", filter=Q(label=F("item__gold_label"))))
    n = counts["n"]
    return {"n": n, "accuracy": counts["right"] / n if n else None}


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
