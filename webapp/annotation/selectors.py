"""Reads for annotation."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet

from judging.task_format import Example, Task
from webapp.annotation import queue_sql
from webapp.annotation.models import Annotation, Item, Project, TaskDefinition


def user_is_admin(user) -> bool:
    return user.is_superuser or user.groups.filter(name="admin").exists()


def project_list_for_user(user) -> QuerySet[Project]:
    if user_is_admin(user):
        return Project.objects.all()
    return Project.objects.filter(raters=user)


def project_for_member(*, slug: str, user) -> Project | None:
    """The project by slug with `user_is_rater` set (one statement: it runs on every claim)."""
    return queue_sql.fetch_one(Project, queue_sql.PROJECT_SQL, {"slug": slug, "user": user.pk})


def user_can_adjudicate(user) -> bool:
    return user_is_admin(user) or user.groups.filter(name="analyst").exists()


ITEM_COUNT_SECONDS = 300


def item_count_key(project_id: int) -> str:
    return f"project-item-count:{project_id}"


def project_item_count(project: Project) -> int:
    """Items in a project, cached: counting a million rows takes longer than a claim may.
    items_create drops the cached count when it adds items."""
    key = item_count_key(project.pk)
    total = cache.get(key)
    if total is None:
        total = Item.objects.filter(project=project).count()
        cache.set(key, total, timeout=ITEM_COUNT_SECONDS)
    return total


def project_progress(*, project: Project, user) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.PROGRESS_SQL, {"user": user.pk, "project": project.pk})
        done, skipped = cursor.fetchone()
    return {"total": project_item_count(project), "done": done, "skipped": skipped}


# Task definitions by (id, updated_at), shared by the requests of a process: a task changes
# rarely, and its updated_at (read with the item) says when it did.
_TASKS: dict[tuple[int, object], TaskDefinition] = {}


def item_of_project(*, item_id: int, project: Project) -> Item | None:
    """An item with its task (one statement when the task is cached, as it almost always is)."""
    item = queue_sql.fetch_one(Item, queue_sql.ITEM_SQL, {"item": item_id, "project": project.pk})
    if item is None:
        return None
    key = (item.task_id, item.task_updated_at)
    task = _TASKS.get(key)
    if task is None:
        if len(_TASKS) > 1000:
            _TASKS.clear()
        task = _TASKS[key] = TaskDefinition.objects.get(pk=item.task_id)
    item.task = task
    return item


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
    """The rater's accuracy on gold items (known answers) of the project."""
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.GOLD_SQL, {"user": user.pk, "project": project.pk})
        n, right = cursor.fetchone()
    return {"n": n, "accuracy": right / n if n else None}


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
