"""A small project with known raw rows: raters (one noisy), two tasks, two judged versions."""

from __future__ import annotations

import datetime
import random

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType
from tests.factories import classification_task, pairwise_task
from webapp.annotation.models import Annotation, Item, Project
from webapp.annotation.services import items_create, task_definition_upsert
from webapp.autoraters.models import AutoraterVersion, ModelJudgment

PAIRWISE = pairwise_task("pairs")
TOPIC = classification_task(
    "topic", labels=("yes", "no"), title="Is the text on topic?", description="Answer yes or no."
)
CATEGORIES = ("math", "chat", "code")


def _examples(task: Task, n: int, rng: random.Random) -> list[Example]:
    out = []
    for i in range(n):
        if task.type is TaskType.PAIRWISE:
            context = {
                "question": f"q{i} <script>alert(1)</script>",
                RESPONSE_A: "a" * rng.randint(5, 40),
                RESPONSE_B: "b" * rng.randint(5, 40),
            }
        else:
            context = {"text": f"text {i}"}
        out.append(
            Example(
                task=task.name,
                id=f"{task.name}-{i}",
                context=context,
                label=rng.choice(task.labels) if i % 10 == 0 else None,
                provenance={"category": CATEGORIES[i % 3]},
            )
        )
    return out


def build_world(seed: int = 0, items_per_task: int = 40, n_raters: int = 5) -> dict:
    rng = random.Random(seed)
    users = get_user_model()
    project = Project.objects.create(name=f"Insights {seed}", slug=f"ins-{seed}")
    raters = [
        users.objects.create_user(f"r{seed}-{i}", password="pw-rater-123") for i in range(n_raters)
    ]
    versions = [
        AutoraterVersion.objects.create(
            project=project, number=n, checkpoint_dir="-", snapshot_hash="-", status=status
        )
        for n, status in ((1, "retired"), (2, "promoted"))
    ]
    now = timezone.now()
    for task in (PAIRWISE, TOPIC):
        definition = task_definition_upsert(project=project, task=task)
        examples = _examples(task, items_per_task, rng)
        items_create(
            project=project,
            definition=definition,
            examples=examples,
            heldout_ids={e.id for e in examples[::3]},
        )
        Item.objects.filter(project=project, task=definition).exclude(gold_label="").update(
            is_gold=True
        )
        for item in Item.objects.filter(project=project, task=definition):
            truth = item.gold_label or rng.choice(task.labels)
            for rater in rng.sample(raters, rng.randint(1, n_raters)):
                good = 0.4 if rater == raters[0] else 0.85
                label = truth if rng.random() < good else rng.choice(task.labels)
                Annotation.objects.create(
                    item=item,
                    annotator=rater,
                    label=label,
                    submission_key=f"{item.pk}-{rater.pk}",
                    seconds_spent=rng.uniform(3, 30),
                    disagreement_tag=rng.choice(["", "", "ambiguous"]),
                )
            Annotation.objects.filter(item=item).update(
                created_at=now - datetime.timedelta(days=rng.randint(0, 5))
            )
            for version in versions:
                valid = rng.random() > 0.05
                pick = (
                    truth
                    if rng.random() < (0.7 if version.number == 1 else 0.85)
                    else (rng.choice(task.labels))
                )
                conf = rng.uniform(0.35, 1.0)
                probs = {
                    lbl: (conf if lbl == pick else (1 - conf) / (len(task.labels) - 1))
                    for lbl in task.labels
                }
                orders = {"ab": probs}
                consistent = None
                if task.type is TaskType.PAIRWISE:
                    ba = pick if rng.random() < 0.8 else rng.choice(task.labels)
                    orders["ba"] = {
                        lbl: (conf if lbl == ba else (1 - conf) / 2) for lbl in task.labels
                    }
                    consistent = ba == pick
                ModelJudgment.objects.create(
                    item=item,
                    version=version,
                    label=pick if valid else "",
                    confidence=conf if valid else None,
                    probabilities=probs if valid else {},
                    order_probabilities=orders if valid else {},
                    consistent=consistent if valid else None,
                    valid=valid,
                    format_version="flame-v1",
                )
    return {"project": project, "raters": raters, "versions": versions}


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def analyst(db):
    user = get_user_model().objects.create_user("analyst", password="pw-analyst-123")
    for project in Project.objects.all():  # the world's, when the test asks for it first
        analyst_of(user, project)
    return user


def analyst_of(user, project) -> None:
    project.raters.add(user, through_defaults={"role": "analyst"})
