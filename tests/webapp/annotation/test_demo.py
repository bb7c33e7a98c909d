"""The demo shows every screen: after `manage.py ember_demo`, each task type has items, and a rater
walking the queue meets all four screens within the first few items."""

import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from judging.demo_tasks import showcase_examples
from judging.task_format import TaskType
from webapp.annotation.demo import DEMO_SLUG
from webapp.annotation.models import Item, Project

pytestmark = pytest.mark.django_db

ANSWER = {"pairwise": "A", "pointwise": "4", "classification": "answers", "open_ended": "Fine."}


def _kind(body: str) -> str | None:
    marker = 'data-kind="'
    start = body.find(marker)
    return body[start + len(marker) : body.index('"', start + len(marker))] if start >= 0 else None


def test_demo_has_every_task_type_and_the_rater_meets_each_screen_early():
    call_command("ember_demo", "--items-per-task", "3", stdout=open("/dev/null", "w"))
    project = Project.objects.get(slug=DEMO_SLUG)
    types = set(project.items.values_list("task__type", flat=True))
    assert types == {t.value for t in TaskType}
    assert project.items.filter(task__type="pairwise").count() == 6
    assert project.items.exclude(task__type="pairwise").count() == len(showcase_examples())
    # The classification items' answers are known (gold); the others wait for raters.
    gold = Item.objects.filter(project=project, task__name="demo_response_kind", is_gold=True)
    assert gold.count() == 3

    client = Client()
    assert client.login(username="rater", password="rater")
    seen = []
    for _ in range(len(showcase_examples()) + 1):
        body = client.get(reverse("queue", args=[project.slug])).content.decode()
        kind = _kind(body)
        assert kind is not None, "the queue offered no item"
        seen.append(kind)
        assert 'data-testid="raw-toggle"' in body and 'data-view="rendered"' in body
        item_id = int(body.split('data-item-id="', 1)[1].split('"', 1)[0])
        answered = client.post(
            reverse("submit-label", args=[project.slug, item_id]),
            {"label": ANSWER[kind], "submission_key": uuid.uuid4().hex},
        )
        assert answered.status_code == 200
    assert set(seen) == {"pairwise", "pointwise", "classification", "open_ended"}, seen

    # Seeding again adds nothing.
    before = project.items.count()
    call_command("ember_demo", "--items-per-task", "3", stdout=open("/dev/null", "w"))
    assert project.items.count() == before
