"""Import and export of interchange JSONL (and preference pairs, CSV) for a project.

Import is atomic (one bad line rejects the whole file, naming file, line, field and reason),
idempotent (an item already in the project, by content hash, is skipped), audited (one
"items.create" row, from the data page, the API or the command alike) and streams the file in
chunks written with bulk inserts.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils.text import slugify

from judging.splits import is_heldout
from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    Example,
    Task,
    TaskType,
    iter_jsonl,
    render_value,
    write_jsonl_atomic,
)
from webapp.annotation.models import Annotation, Item, Project, TaskDefinition
from webapp.annotation.selectors import item_count_key, task_of
from webapp.annotation.services import item_build
from webapp.audit.services import Via, audit_record
from webapp.common.storable import unstorable_paths

CHUNK = 2000
# Every import (data page, API, command) holds this share out by default, as the demo does:
# with nothing held out the promotion gate has no labels to compare autorater versions on.
DEFAULT_HELDOUT_PERCENT = 20
NO_HELDOUT_WARNING = (
    "0 % held out: none of these items has a held-out label, so the promotion gate cannot "
    "compare autorater versions on them (every version after v1 fails it with nothing to "
    f"compare on). Import with a held-out share (default {DEFAULT_HELDOUT_PERCENT} %) unless "
    "another import already holds items out."
)
GOLD_NEEDS_LABEL = (
    "{where}: a gold import needs a label on every example (the known answer); this one has none"
)
TASK_CONFLICT = (
    "{where}: task {name!r} already exists in project {project!r} with a different definition"
)
TOO_LONG = "{where}: task field {field!r} is {length} characters long; at most {limit}"
UNSTORABLE = (
    "{where}: text may not contain NUL characters or unpaired surrogates (PostgreSQL cannot "
    "store them): {paths}"
)
TASK_RETIRED = (
    "{where}: task {name!r} of project {project!r} is retired (its rubric was edited after it had "
    "labels); new items go to its current version {current!r}: name that task instead"
)


@dataclasses.dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0
    per_task: Counter = dataclasses.field(default_factory=Counter)
    # Said to the admin alongside the counts (the page, the API response, the command's stderr).
    warning: str | None = None


def project_get_or_create(*, name: str) -> Project:
    project = (
        Project.objects.filter(slug=slugify(name)).first()
        or Project.objects.filter(name=name).first()
    )
    if project is None:
        project = Project.objects.create(name=name, slug=slugify(name)[:100] or "project")
    return project


def _task_storable(task: Task, where: str) -> None:
    """ValidationError naming the line and field for a task the database cannot store."""
    for field in ("name", "title"):
        limit = TaskDefinition._meta.get_field(field).max_length
        value = getattr(task, field)
        if len(value) > limit:
            raise ValidationError(
                TOO_LONG.format(where=where, field=field, length=len(value), limit=limit)
            )
    _refuse_unstorable(unstorable_paths(task.to_dict(), "task"), where)


def _refuse_unstorable(paths: list[str], where: str) -> None:
    if paths:
        shown = ", ".join(path.lstrip(".") for path in paths[:10])
        raise ValidationError(UNSTORABLE.format(where=where, paths=shown))


def _definition_for(project: Project, task: Task, known: dict, where: str) -> TaskDefinition:
    """The project's definition of the line's task (created on first sight). `known`: name ->
    (definition, the Task it was read as), so each task is checked once, and a later line that
    redefines a task differently is refused rather than rendered by one definition and stored
    under another."""
    definition, seen = known.get(task.name, (None, None))
    if definition is not None and task is not seen and task != seen:
        _task_storable(task, where)
        raise ValidationError(
            TASK_CONFLICT.format(where=where, name=task.name, project=project.name)
        )
    if definition is None:
        _task_storable(task, where)
        definition = TaskDefinition.objects.filter(project=project, name=task.name).first()
        if definition is None:
            definition = TaskDefinition.objects.create(project=project, **task.to_dict())
        elif definition.retired:
            raise ValidationError(
                TASK_RETIRED.format(
                    where=where,
                    name=task.name,
                    project=project.name,
                    current=_current_version(definition).name,
                )
            )
        elif task_of(definition) != task:
            raise ValidationError(
                TASK_CONFLICT.format(where=where, name=task.name, project=project.name)
            )
        known[task.name] = (definition, task)
    return definition


def _current_version(definition: TaskDefinition) -> TaskDefinition:
    """The newest version a retired task was edited into."""
    while (following := definition.next_versions.order_by("-version").first()) is not None:
        definition = following
    return definition


def examples_import(
    *,
    project: Project,
    path: Path | str,
    heldout_percent: int = DEFAULT_HELDOUT_PERCENT,
    gold: bool = False,
    actor=None,
    via: Via | None = None,
    progress=None,
) -> ImportResult:
    """Import an interchange JSONL file into a project, all or nothing. Audited as
    "items.create" (created, skipped and per-task counts). `progress(rows)`, when given, is
    called after each chunk written (the rows read so far; nothing is committed before the end).

    `gold`: the examples' labels are known answers; the new items are gold (rater accuracy is
    measured on them), and every example must carry a label. Items already present are skipped
    as always (mark those gold on the adjudicate page). With 0 % held out the result carries
    a warning."""
    result = ImportResult()
    if heldout_percent == 0:
        result.warning = NO_HELDOUT_WARNING
    definitions: dict[str, tuple[TaskDefinition, Task]] = {}
    with transaction.atomic():
        before = Item.objects.filter(project=project).count()
        chunk: list[Item] = []
        for line_number, (task, example) in enumerate(iter_jsonl(path), start=1):
            where = f"{path}:{line_number}"
            definition = _definition_for(project, task, definitions, where)
            _refuse_unstorable(unstorable_paths(example.to_dict(), ""), where)
            if gold and not example.label:
                raise ValidationError(GOLD_NEEDS_LABEL.format(where=where))
            chunk.append(
                item_build(
                    project=project,
                    definition=definition,
                    task=task,
                    example=example,
                    heldout=is_heldout(example, heldout_percent),
                    is_gold=gold,
                )
            )
            result.per_task[task.name] += 1
            if len(chunk) >= CHUNK:
                _insert(chunk)
                chunk = []
                if progress is not None:
                    progress(line_number)
        _insert(chunk)
        result.created = Item.objects.filter(project=project).count() - before
        result.skipped = sum(result.per_task.values()) - result.created
        audit_record(
            action="items.create",
            actor=actor,
            via=via,
            obj=project,
            summary={
                "created": result.created,
                "skipped": result.skipped,
                "per_task": dict(result.per_task),
                "heldout_percent": heldout_percent,
                "gold": gold,
            },
        )
        transaction.on_commit(lambda: cache.delete(item_count_key(project.pk)))
    return result


def _insert(items: list[Item]) -> None:
    if items:
        Item.objects.bulk_create(items, ignore_conflicts=True, batch_size=CHUNK)


# --- export ------------------------------------------------------------------------------------


def _label_distribution(item: Item) -> dict[str, int] | None:
    """The imported distribution plus every rater's current label in Ember."""
    counts = Counter(item.label_distribution or {})
    counts.update(annotation.label for annotation in item.current_annotations)
    return dict(sorted(counts.items())) or None


def project_examples(project: Project) -> Iterator[Example]:
    current = Prefetch(
        "annotations",
        queryset=Annotation.objects.filter(is_current=True).order_by("pk"),
        to_attr="current_annotations",
    )
    items = (
        Item.objects.filter(project=project)
        .select_related("task")
        .prefetch_related(current)
        .order_by("pk")
    )
    for item in items.iterator(chunk_size=CHUNK):
        yield Example(
            task=item.task.name,
            id=item.external_id,
            context=item.context,
            reference=item.reference or None,
            label=item.gold_label or None,
            label_distribution=_label_distribution(item),
            provenance=item.provenance,
        )


def examples_export_jsonl(*, project: Project, path: Path | str) -> dict[str, int]:
    tasks = [task_of(definition) for definition in project.tasks.all()]
    return write_jsonl_atomic(path, tasks, project_examples(project))


def _prompt_text(task: Task, example: Example) -> str:
    return "\n".join(
        render_value(example.context[field])
        for field in task.context_fields
        if field not in (RESPONSE_A, RESPONSE_B)
    ).strip()


def preference_pairs(project: Project) -> Iterator[dict]:
    """{"prompt", "chosen", "rejected"} for pairwise items with an A/B label (ties skipped)."""
    tasks = {definition.name: task_of(definition) for definition in project.tasks.all()}
    for example in project_examples(project):
        task = tasks[example.task]
        if task.type is not TaskType.PAIRWISE or example.label not in ("A", "B"):
            continue
        a, b = example.context[RESPONSE_A], example.context[RESPONSE_B]
        chosen, rejected = (a, b) if example.label == "A" else (b, a)
        yield {
            "id": example.id,
            "task": example.task,
            "prompt": _prompt_text(task, example),
            "chosen": render_value(chosen),
            "rejected": render_value(rejected),
        }


def _write_atomic(path: Path | str, write) -> int:
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            count = write(handle)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def preference_pairs_export(*, project: Project, path: Path | str) -> int:
    def write(handle) -> int:
        count = 0
        for pair in preference_pairs(project):
            handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
            count += 1
        return count

    return _write_atomic(path, write)


def examples_export_csv(*, project: Project, path: Path | str) -> int:
    fields = []
    for definition in project.tasks.all():
        fields.extend(field for field in definition.context_fields if field not in fields)
    header = ["id", "task", *fields, "reference", "label", "label_distribution"]

    def write(handle) -> int:
        writer = csv.writer(handle)
        writer.writerow(header)
        count = 0
        for example in project_examples(project):
            writer.writerow(
                [example.id, example.task]
                + [render_value(example.context[f]) if f in example.context else "" for f in fields]
                + [
                    example.reference or "",
                    example.label or "",
                    json.dumps(example.label_distribution) if example.label_distribution else "",
                ]
            )
            count += 1
        return count

    return _write_atomic(path, write)


EXPORTERS = {
    "jsonl": examples_export_jsonl,
    "pairs": preference_pairs_export,
    "csv": examples_export_csv,
}
