"""Immutable, content-hashed dataset snapshots: what a training run reads instead of Postgres."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections import Counter
from pathlib import Path

from django.conf import settings

from judging.demo_tasks import generate_demo_examples
from judging.splits import content_key
from judging.task_format import Example, Task, read_jsonl, write_jsonl
from webapp.annotation.models import Annotation, Item, Project
from webapp.annotation.selectors import item_example, task_of


@dataclasses.dataclass(frozen=True)
class Snapshot:
    path: Path
    sha256: str
    n_examples: int
    labels_cutoff_id: int
    per_task: dict[str, int]


def project_tasks(project: Project) -> dict[str, Task]:
    return {definition.name: task_of(definition) for definition in project.tasks.all()}


def builtin_examples(project: Project) -> list[Example]:
    """Generated known-answer examples, minus any whose content (either order) is held out."""
    if project.builtin_mixture != "demo":
        return []
    heldout_items = Item.objects.filter(project=project, split=Item.Split.HELDOUT)
    heldout = {content_key(item_example(item)) for item in heldout_items.select_related("task")}
    generated = generate_demo_examples(settings.EMBER_DEMO_MIXTURE_PER_TASK, seed=1)
    return [
        dataclasses.replace(example, provenance={"source": "builtin:demo"})
        for example in generated
        if content_key(example) not in heldout
    ]


def training_examples(project: Project, labels_cutoff_id: int) -> list[Example]:
    """Built-in known-answer data, train-split items with a known answer, and every current
    human label on train-split items that nobody adjudicated.

    An adjudicated item (`Item.adjudicated_at` set by `item_adjudicate`, which also makes the
    chosen label its `gold_label`) gives exactly one example: the adjudicated label, with
    provenance source "adjudicated". None of its raters' labels are trained on: the overruled
    ones are wrong by the analyst's decision, and the agreeing ones are folded into that one
    example rather than kept beside it. Keeping them would weight a settled item by how many
    raters happened to side with the adjudicator (and count the adjudicated label twice), so a
    contested item would pull harder on the mixture than its single, settled answer warrants."""
    examples: list[Example] = builtin_examples(project)
    items = Item.objects.filter(project=project, split=Item.Split.TRAIN).select_related("task")
    for item in items.exclude(gold_label="").order_by("pk").iterator():
        source = "gold" if item.adjudicated_at is None else "adjudicated"
        examples.append(item_example(item, provenance={"source": source, "item": item.pk}))
    labels = (
        Annotation.objects.filter(
            item__project=project,
            item__split=Item.Split.TRAIN,
            item__adjudicated_at__isnull=True,
            pk__lte=labels_cutoff_id,
            is_current=True,
        )
        .select_related("item", "item__task")
        .order_by("pk")
    )
    for annotation in labels.iterator():
        examples.append(
            item_example(
                annotation.item,
                label=annotation.label,
                provenance={
                    "source": "human",
                    "item": annotation.item_id,
                    "rater": annotation.annotator_id,
                    "annotation": annotation.pk,
                },
            )
        )
    return examples


def heldout_examples(project: Project) -> list[Example]:
    """Held-out items with a label: the known answer (an adjudicated item's is the adjudicated
    label), else the humans' majority label."""
    examples = []
    items = (
        Item.objects.filter(project=project, split=Item.Split.HELDOUT)
        .select_related("task")
        .prefetch_related("annotations")
        .order_by("pk")
    )
    for item in items:
        label = item.gold_label
        if not label:
            votes = Counter(a.label for a in item.annotations.all() if a.is_current)
            label = votes.most_common(1)[0][0] if votes else ""
        if label:
            examples.append(item_example(item, label=label))
    return examples


def foundation_examples(
    foundation_dir: str | Path | None, tasks: dict[str, Task]
) -> tuple[dict[str, Task], list[Example]]:
    """The foundation's training tasks and examples to fold into a project's snapshot. A task
    the project also defines keeps the project's definition; the foundation's examples of it
    are kept only if both define it the same way."""
    if not foundation_dir:
        return {}, []
    found, examples = read_jsonl(Path(foundation_dir) / "train.jsonl")
    clash = {name for name, task in found.items() if name in tasks and tasks[name] != task}
    kept = {name: task for name, task in found.items() if name not in clash}
    return kept, [e for e in examples if e.task in kept]


def dataset_snapshot_export(
    *, project: Project, directory: Path, foundation_dir: str | Path | None = None
) -> Snapshot:
    """Write the project's training mixture to DIRECTORY/<sha256>.jsonl (never rewritten):
    the foundation's training examples first (when FOUNDATION_DIR is given), then the
    project's."""
    cutoff = (
        Annotation.objects.filter(item__project=project)
        .order_by("-pk")
        .values_list("pk", flat=True)
    ).first() or 0
    tasks = project_tasks(project)
    extra_tasks, examples = foundation_examples(foundation_dir, tasks)
    tasks = {**extra_tasks, **tasks}
    examples += training_examples(project, cutoff)
    directory.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=directory, suffix=".partial")
    os.close(handle)
    write_jsonl(temp_name, tasks.values(), examples)
    digest = hashlib.sha256(Path(temp_name).read_bytes()).hexdigest()
    final = directory / f"{digest}.jsonl"
    if final.exists():
        os.unlink(temp_name)
    else:
        os.replace(temp_name, final)
    return Snapshot(
        path=final,
        sha256=digest,
        n_examples=len(examples),
        labels_cutoff_id=cutoff,
        per_task=dict(Counter(example.task for example in examples)),
    )
