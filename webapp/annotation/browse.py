"""Reads for the items browser: a project's items filtered by text, task, label state,
disagreement and gold; one item's labels, their revisions and the autorater's verdicts."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from webapp.annotation.models import Annotation, Item, Project
from webapp.autoraters.models import ModelJudgment

STATES = {
    "unlabelled": "No labels yet",
    "in_progress": "Some labels, still open",
    "done": "Enough labels (closed)",
    "adjudicated": "Adjudicated",
}
YES_NO = ("yes", "no")
MAX_QUERY = 200


@dataclasses.dataclass(frozen=True)
class ItemFilter:
    q: str = ""
    task: int | None = None
    state: str = ""
    disagreement: str = ""
    gold: str = ""

    @classmethod
    def from_query(cls, params, project: Project) -> ItemFilter:
        """The filter from a page's query string; ValidationError naming the field and why."""
        q = params.get("q", "").strip()
        if len(q) > MAX_QUERY:
            raise ValidationError(f"q: the search text is longer than {MAX_QUERY} characters.")
        task = params.get("task", "")
        if task:
            if not task.isdigit() or not project.tasks.filter(pk=int(task)).exists():
                raise ValidationError(f"task: “{task}” is not a task of this project.")
        state = params.get("state", "")
        if state and state not in STATES:
            raise ValidationError(f"state: “{state}” is not one of {', '.join(STATES)}.")
        for name in ("disagreement", "gold"):
            if params.get(name, "") not in ("", *YES_NO):
                raise ValidationError(f"{name}: give yes or no, not “{params.get(name)}”.")
        return cls(
            q=q,
            task=int(task) if task else None,
            state=state,
            disagreement=params.get("disagreement", ""),
            gold=params.get("gold", ""),
        )


def items_browse(project: Project, where: ItemFilter) -> QuerySet[Item]:
    """The project's items matching `where`, oldest first, each with `n_labels` (current human
    labels) and `n_distinct` (distinct current labels)."""
    items = Item.objects.filter(project=project).select_related("task")
    if where.q:
        items = items.filter(Q(flame_prompt__icontains=where.q) | Q(external_id__icontains=where.q))
    if where.task is not None:
        items = items.filter(task_id=where.task)
    if where.state == "unlabelled":
        items = items.filter(label_count=0)
    elif where.state == "in_progress":
        items = items.filter(label_count__gt=0, is_open=True)
    elif where.state == "done":
        items = items.filter(is_open=False)
    elif where.state == "adjudicated":
        items = items.filter(adjudicated_at__isnull=False)
    if where.gold:
        items = items.filter(is_gold=where.gold == "yes")
    current = Q(annotations__is_current=True)
    items = items.annotate(
        n_labels=Count("annotations", filter=current),
        n_distinct=Count("annotations__label", filter=current, distinct=True),
    )
    if where.disagreement == "yes":
        items = items.filter(n_distinct__gte=2)
    elif where.disagreement == "no":
        items = items.filter(n_distinct__lt=2)
    return items.order_by("pk")


def label_counts(items) -> dict[int, list[tuple[str, int]]]:
    """The current human labels of each item (one statement for a page of items)."""
    rows = Annotation.objects.filter(item__in=[i.pk for i in items], is_current=True)
    counts: dict[int, Counter] = defaultdict(Counter)
    for item_id, label in rows.values_list("item_id", "label"):
        counts[item_id][label] += 1
    return {item_id: counter.most_common() for item_id, counter in counts.items()}


def item_labels_with_revisions(item: Item) -> QuerySet[Annotation]:
    """Every label of the item, each rater's revisions together, oldest first."""
    return (
        Annotation.objects.filter(item=item)
        .select_related("annotator")
        .order_by("annotator__username", "revision")
    )


def item_verdicts(item: Item) -> QuerySet[ModelJudgment]:
    """The autorater's verdicts on the item, newest version first."""
    return (
        ModelJudgment.objects.filter(item=item)
        .select_related("version")
        .order_by("-version__number")
    )
