"""The demo project the app creates on its own: known-answer pairwise tasks, no downloads, and
(with `showcase`, as `manage.py ember_demo` does) a few items of every other task type first in
the queue, so a newcomer meets all four rater screens."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from judging.demo_tasks import DEMO_TASKS, SHOWCASE_TASKS, generate_demo_examples, showcase_examples
from judging.splits import is_heldout
from webapp.annotation.models import Project
from webapp.annotation.services import items_create, task_definition_upsert

DEMO_SLUG = "demo"
HELDOUT_PERCENT = 20


def demo_users_ensure() -> dict[str, object]:
    """An admin and a rater for the local demo; passwords from the environment."""
    users = get_user_model()
    admin_group, _ = Group.objects.get_or_create(name="admin")
    Group.objects.get_or_create(name="analyst")
    rater_group, _ = Group.objects.get_or_create(name="rater")
    admin, created = users.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        admin.set_password(os.environ.get("EMBER_DEMO_ADMIN_PASSWORD", "admin"))
        admin.save(update_fields=["password"])
    admin.groups.add(admin_group)
    rater, created = users.objects.get_or_create(username="rater")
    if created:
        rater.set_password(os.environ.get("EMBER_DEMO_RATER_PASSWORD", "rater"))
        rater.save(update_fields=["password"])
    rater.groups.add(rater_group)
    return {"admin": admin, "rater": rater}


@transaction.atomic
def demo_project_ensure(*, n_per_task: int = 150, seed: int = 0, showcase: bool = False) -> Project:
    """Create (or complete) the demo project; running it twice adds nothing. `showcase` adds the
    pointwise, classification and open-ended showcase items (judging.demo_tasks), created first
    and one task after another, so sequential routing offers every screen within a few items."""
    users = demo_users_ensure()
    project, _ = Project.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Demo: known-answer tasks" if showcase else "Demo: known-answer pairwise tasks",
            "builtin_mixture": DEMO_SLUG,
            "description": (
                "Arithmetic and required-word items whose right answer is known by "
                "construction, so human and autorater accuracy can be measured."
                + (
                    " First in the queue: a rating, a classification and an open-ended "
                    "critique, one of each rater screen."
                    if showcase
                    else ""
                )
            ),
        },
    )
    project.raters.add(users["rater"])
    project.raters.add(users["admin"], through_defaults={"role": "admin"})
    if showcase:
        definitions = {
            task.name: task_definition_upsert(project=project, task=task) for task in SHOWCASE_TASKS
        }
        for example in showcase_examples():  # one at a time: ids interleave the task types
            items_create(
                project=project,
                definition=definitions[example.task],
                examples=[example],
                is_gold=True,  # the classification items' answers are known; the rest have none
            )
    examples = generate_demo_examples(n_per_task, seed=seed)
    heldout = {example.id for example in examples if is_heldout(example, HELDOUT_PERCENT)}
    for task in DEMO_TASKS:
        definition = task_definition_upsert(project=project, task=task)
        items_create(
            project=project,
            definition=definition,
            examples=[example for example in examples if example.task == task.name],
            heldout_ids=heldout,
            is_gold=True,
        )
    return project
