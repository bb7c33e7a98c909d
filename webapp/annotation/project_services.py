"""Writes for the project and rubric pages: a project's settings, and rubric versions.

A rubric (TaskDefinition) that already has labels is never changed in place: saving it makes a
new version ("<name>-v<n>") and retires the old one, whose items keep pointing at it, so what
an old label meant stays what the rater saw. A rubric without labels is edited in place and its
items' FLAMe renderings follow. Every change is audited (webapp.audit).
"""

from __future__ import annotations

import dataclasses
import re

from django.core.exceptions import ValidationError
from django.db import transaction

from judging.task_format import Task, render_prompt
from webapp.annotation.models import Annotation, Item, Project, TaskDefinition
from webapp.annotation.selectors import item_example
from webapp.annotation.services import project_create, project_save
from webapp.audit.services import Via, audit_record

PROJECT_FIELDS = (
    "name",
    "description",
    "raters_per_item",
    "reveal_autorater_before_submit",
    "routing",
    "heldout_percent",
)
TASK_NAME_TAKEN = "A task named {name!r} already exists in this project."
CONTEXT_FIELD_MISSING = (
    "Item {item!r} has no context field {field!r}: add the field back, or change a rubric "
    "without items."
)
VERSION_SUFFIX = re.compile(r"-v\d+$")


def project_create_with_settings(*, slug: str, settings: dict, actor=None, via: Via | None = None):
    """A new project with every setting of the project form. Audited as "project.create"."""
    with transaction.atomic():
        project = project_create(
            name=settings["name"],
            slug=slug,
            description=settings.get("description", ""),
            raters_per_item=settings.get("raters_per_item", 1),
            actor=actor,
            via=via,
        )
        for field in PROJECT_FIELDS:
            if field in settings:
                setattr(project, field, settings[field])
        project.save()
    return project


def project_settings_update(
    *, project: Project, settings: dict, actor=None, via: Via | None = None
) -> dict:
    """Change a project's settings; audited as "project.update" with each changed field's old
    and new value. Returns the changes (empty: nothing changed, nothing audited)."""
    changes = {}
    for field in PROJECT_FIELDS:
        if field in settings and getattr(project, field) != settings[field]:
            changes[field] = [getattr(project, field), settings[field]]
            setattr(project, field, settings[field])
    if changes:
        with transaction.atomic():
            project_save(project=project)
            audit_record(
                action="project.update", actor=actor, via=via, obj=project, summary=changes
            )
    return changes


def rubric_has_labels(definition: TaskDefinition) -> bool:
    """Whether any item of this rubric carries a human label or a known answer."""
    return (
        Annotation.objects.filter(item__task=definition).exists()
        or Item.objects.filter(task=definition).exclude(gold_label="").exists()
    )


@dataclasses.dataclass(frozen=True)
class RubricSaved:
    definition: TaskDefinition
    new_version: bool


def _fields(task: Task) -> dict:
    data = task.to_dict()
    data.pop("name")
    return data


def rubric_create(*, project: Project, task: Task, actor=None, via: Via | None = None):
    with transaction.atomic():
        if TaskDefinition.objects.filter(project=project, name=task.name).exists():
            raise ValidationError(TASK_NAME_TAKEN.format(name=task.name))
        definition = TaskDefinition.objects.create(project=project, name=task.name, **_fields(task))
        audit_record(
            action="task.create",
            actor=actor,
            via=via,
            obj=definition,
            summary={"project": project.slug, "task": task.to_dict()},
        )
    return definition


def _next_name(project: Project, definition: TaskDefinition, version: int) -> str:
    root = VERSION_SUFFIX.sub("", definition.name)
    name = f"{root}-v{version}"
    while TaskDefinition.objects.filter(project=project, name=name).exists():
        version += 1
        name = f"{root}-v{version}"
    return name


def rubric_update(
    *, definition: TaskDefinition, task: Task, actor=None, via: Via | None = None
) -> RubricSaved:
    """Save an edited rubric (`task.name` is ignored: a rubric keeps its name). With labels on
    its items: a new version, the old one retired; without: in place, items re-rendered."""
    with transaction.atomic():
        definition = TaskDefinition.objects.select_for_update().get(pk=definition.pk)
        before = definition.as_task_dict()
        if rubric_has_labels(definition):
            version = definition.version + 1
            name = _next_name(definition.project, definition, version)
            new = TaskDefinition.objects.create(
                project=definition.project,
                name=name,
                version=version,
                previous=definition,
                **_fields(task),
            )
            definition.retired = True
            definition.save(update_fields=["retired", "updated_at"])
            audit_record(
                action="task.version",
                actor=actor,
                via=via,
                obj=new,
                summary={"previous": definition.pk, "from": before, "to": new.as_task_dict()},
            )
            return RubricSaved(new, True)
        for field, value in _fields(task).items():
            setattr(definition, field, value)
        definition.save()
        _rerender_items(definition)
        audit_record(
            action="task.update",
            actor=actor,
            via=via,
            obj=definition,
            summary={"from": before, "to": definition.as_task_dict()},
        )
        return RubricSaved(definition, False)


def _rerender_items(definition: TaskDefinition) -> None:
    """Unlabelled items follow an in-place edit: their FLAMe prompt is rendered again."""
    task = Task.from_dict(definition.as_task_dict())
    batch = []
    for item in Item.objects.filter(task=definition).select_related("task").iterator(1000):
        missing = [field for field in task.context_fields if field not in item.context]
        if missing:
            raise ValidationError(
                CONTEXT_FIELD_MISSING.format(item=item.external_id, field=missing[0])
            )
        item.flame_prompt = render_prompt(task, item_example(item))
        batch.append(item)
        if len(batch) >= 1000:
            Item.objects.bulk_update(batch, ["flame_prompt"])
            batch = []
    Item.objects.bulk_update(batch, ["flame_prompt"])
