"""The items browser: each filter (text, task, label state, disagreement, gold) and paging pick
the items they say; an item's page shows its labels with their revisions and the verdicts,
model text escaped; bad filters are refused naming the field; analysts and admins only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from judging.task_format import RESPONSE_A
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Item
from webapp.annotation.rater_services import annotation_revise, annotation_submit
from webapp.autoraters.models import AutoraterVersion, ModelJudgment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    project = demo_project_ensure(n_per_task=20)  # 40 items of two tasks
    make = get_user_model().objects.create_user
    ann, bob, ana = (make(n, password="pw") for n in ("ann", "bob", "ana"))
    project.raters.add(ann, bob)
    project.raters.add(ana, through_defaults={"role": "analyst"})
    items = list(Item.objects.filter(project=project).order_by("pk"))
    # items[0]: two raters disagree; items[1]: two agree; items[2]: one label, revised.
    annotation_submit(item=items[0], annotator=ann, label="A", submission_key="k0a")
    annotation_submit(item=items[0], annotator=bob, label="B", submission_key="k0b")
    annotation_submit(item=items[1], annotator=ann, label="A", submission_key="k1a")
    annotation_submit(item=items[1], annotator=bob, label="A", submission_key="k1b")
    annotation_submit(item=items[2], annotator=ann, label="A", submission_key="k2a")
    annotation_revise(item=items[2], annotator=ann, label="B", submission_key="k2b")
    Item.objects.filter(project=project).update(is_gold=False)
    Item.objects.filter(pk=items[4].pk).update(is_gold=True)
    Item.objects.filter(pk=items[3].pk).update(
        context={**items[3].context, RESPONSE_A: "<script>alert(1)</script> needle-text"}
    )
    version = AutoraterVersion.objects.create(
        project=project, number=1, status="promoted", checkpoint_dir="-", snapshot_hash="-"
    )
    ModelJudgment.objects.create(
        item=items[0], version=version, label="B", confidence=0.75, format_version="t"
    )
    client = Client()
    client.force_login(ana)
    return project, items, client


def _ids(client, project, **query) -> list[int]:
    response = client.get(reverse("items-browse", args=[project.slug]), query)
    assert response.status_code == 200
    return [item.pk for item in response.context["page"].object_list]


def test_filters_pick_the_items_they_say(world):
    project, items, client = world
    every = list(Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    assert _ids(client, project) == every[:25]  # paged by 25
    assert _ids(client, project, page=2) == every[25:]
    assert _ids(client, project, disagreement="yes") == [items[0].pk]
    assert items[0].pk not in _ids(client, project, disagreement="no")
    # "needle-text" is in one item's response only (the search looks in the rendered item).
    Item.objects.filter(pk=items[3].pk).update(flame_prompt="... needle-text ...")
    assert _ids(client, project, q="needle-text") == [items[3].pk]
    assert _ids(client, project, q=items[5].external_id) == [items[5].pk]
    task = items[0].task
    by_task = set(Item.objects.filter(project=project, task=task).values_list("pk", flat=True))
    assert set(_ids(client, project, task=task.pk, page=1)) <= by_task
    assert _ids(client, project, state="unlabelled")[:1] == [items[3].pk]
    assert set(_ids(client, project, state="in_progress")) | set(
        _ids(client, project, state="done")
    ) == {items[0].pk, items[1].pk, items[2].pk}
    assert _ids(client, project, gold="yes") == [items[4].pk]
    assert items[4].pk not in _ids(client, project, gold="no")


def test_an_item_shows_labels_revisions_and_verdicts(world):
    project, items, client = world
    page = client.get(reverse("item-browse", args=[project.slug, items[0].pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert (
        body.count('data-testid="label-row"') == 2 and body.count('data-testid="verdict-row"') == 1
    )
    assert "0.75" in body and "v1" in body
    revised = client.get(reverse("item-browse", args=[project.slug, items[2].pk])).content.decode()
    assert revised.count('data-testid="label-row"') == 2 and "(replaced)" in revised
    assert Annotation.objects.filter(item=items[2]).count() == 2
    evil = client.get(reverse("item-browse", args=[project.slug, items[3].pk])).content.decode()
    assert "<script>alert(1)</script>" not in evil and "&lt;script&gt;" in evil


def test_bad_filters_are_refused_naming_the_field(world):
    project, _, client = world
    url = reverse("items-browse", args=[project.slug])
    for query, field in (
        ({"task": "999999"}, "task:"),
        ({"task": "abc"}, "task:"),
        ({"state": "maybe"}, "state:"),
        ({"gold": "perhaps"}, "gold:"),
        ({"disagreement": "1"}, "disagreement:"),
        ({"q": "x" * 201}, "q:"),
    ):
        response = client.get(url, query)
        assert response.status_code == 400 and field in response.content.decode(), query


def test_raters_and_outsiders_get_403(world):
    project, items, _ = world
    rater = get_user_model().objects.get(username="ann")
    outsider = get_user_model().objects.create_user("out", password="pw")
    for user in (rater, outsider):
        client = Client()
        client.force_login(user)
        assert client.get(reverse("items-browse", args=[project.slug])).status_code == 403
        assert (
            client.get(reverse("item-browse", args=[project.slug, items[0].pk])).status_code == 403
        )
