import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse

from judging.task_format import Example
from tests.factories import classification_task, open_ended_task, pointwise_task
from webapp.annotation.models import Annotation, Item, Project, Skip
from webapp.annotation.rater_services import (
    annotation_revise,
    annotation_skip,
    annotation_submit,
    assignment_claim_next,
)
from webapp.annotation.selectors import items_needing_adjudication, rater_gold_accuracy
from webapp.annotation.services import item_adjudicate, items_create, task_definition_upsert
from webapp.annotation.transfer import project_examples

pytestmark = pytest.mark.django_db

SCALE = pointwise_task("quality", scale=(0, 10))
LIKERT = pointwise_task("likert")
SAFETY = classification_task("safety")
CRITIQUE = open_ended_task("critique")


@pytest.fixture
def users():
    make = get_user_model().objects.create_user
    return [make(f"r{i}", password="pw") for i in range(3)]


@pytest.fixture
def project(users):
    project = Project.objects.create(name="P", slug="p", raters_per_item=2)
    project.raters.add(*users)
    for task in (SCALE, LIKERT, SAFETY, CRITIQUE):
        definition = task_definition_upsert(project=project, task=task)
        items_create(
            project=project,
            definition=definition,
            examples=[
                Example(
                    task=task.name,
                    id=f"{task.name}-{i}",
                    context={"text": f"t{i}"},
                    label="safe" if task is SAFETY else None,
                )
                for i in range(2)
            ],
            is_gold=task is SAFETY,
        )
    return project


def _item(name: str) -> Item:
    return Item.objects.get(external_id=name)


@pytest.mark.parametrize(
    ("item", "label", "stored"),
    [
        ("quality-0", "7.50", "7.5"),
        ("likert-0", "4", "4"),
        ("safety-0", "unsafe", "unsafe"),
        ("critique-0", "  Too long.  ", "Too long."),
    ],
)
def test_each_task_type_accepts_its_labels(project, users, item, label, stored):
    annotation, _ = annotation_submit(
        item=_item(item), annotator=users[0], label=label, submission_key=item
    )
    assert annotation.label == stored


@pytest.mark.parametrize(
    ("item", "label", "message"),
    [
        ("quality-0", "11", r"outside the scale \[0, 10\]"),
        ("quality-0", "x", "is not a number"),
        ("likert-0", "6", "not one of this task's labels"),
        ("critique-0", "   ", "Write an answer"),
    ],
)
def test_each_task_type_rejects_what_does_not_fit(project, users, item, label, message):
    with pytest.raises(ValidationError, match=message):
        annotation_submit(item=_item(item), annotator=users[0], label=label, submission_key="k")
    assert not Annotation.objects.exists()


def test_a_revision_keeps_the_old_label(project, users):
    item = _item("safety-0")
    first, _ = annotation_submit(item=item, annotator=users[0], label="safe", submission_key="1")
    second, created = annotation_revise(
        item=item, annotator=users[0], label="unsafe", submission_key="2"
    )
    again, created_again = annotation_revise(
        item=item, annotator=users[0], label="unsafe", submission_key="2"
    )
    assert created and not created_again and again.pk == second.pk
    rows = list(Annotation.objects.filter(item=item).order_by("revision"))
    assert [(a.label, a.revision, a.is_current) for a in rows] == [
        ("safe", 1, False),
        ("unsafe", 2, True),
    ]
    assert rows[0].annotator_id == rows[1].annotator_id and rows[1].created_at >= rows[0].created_at


def test_k_raters_per_item_and_nobody_gets_an_item_twice(project, users):
    seen = {user.pk: set() for user in users}
    for _ in range(8):
        for user in users:
            item = assignment_claim_next(project=project, rater=user)
            if item is None:
                continue
            assert item.pk not in seen[user.pk]
            seen[user.pk].add(item.pk)
            annotation_submit(
                item=item, annotator=user, label=_valid(item), submission_key=f"{user.pk}-{item.pk}"
            )
    counts = [Annotation.objects.filter(item=item).count() for item in project.items.all()]
    assert counts == [2] * 8


def _valid(item: Item) -> str:
    return {"quality": "5", "likert": "3", "safety": "safe", "critique": "ok"}[item.task.name]


def test_skipped_and_flagged_items_are_not_offered_again(project, users):
    item = assignment_claim_next(project=project, rater=users[0])
    annotation_skip(item=item, rater=users[0], flagged=True, reason="garbled")
    assert Skip.objects.get(item=item).flagged
    assert assignment_claim_next(project=project, rater=users[0]).pk != item.pk


def test_adjudication_sets_the_gold_label_and_keeps_every_label(project, users):
    item = _item("safety-1")
    annotation_submit(item=item, annotator=users[0], label="safe", submission_key="a")
    annotation_submit(item=item, annotator=users[1], label="unsafe", submission_key="b")
    assert list(items_needing_adjudication(project)) == [item]
    item_adjudicate(item=item, actor=users[2], label="unsafe")
    item.refresh_from_db()
    assert item.gold_label == "unsafe" and item.adjudicated_by == users[2]
    assert list(items_needing_adjudication(project)) == []
    exported = {e.id: e for e in project_examples(project)}["safety-1"]
    assert exported.label == "unsafe"
    assert exported.label_distribution == {"safe": 1, "unsafe": 1}


def test_gold_accuracy_of_a_rater(project, users):
    annotation_submit(item=_item("safety-0"), annotator=users[0], label="safe", submission_key="1")
    annotation_submit(
        item=_item("safety-1"), annotator=users[0], label="unsafe", submission_key="2"
    )
    assert rater_gold_accuracy(project=project, user=users[0]) == {"n": 2, "accuracy": 0.5}


def test_login_is_rate_limited(client, users, settings):
    cache.clear()
    settings.EMBER_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert (
            client.post(reverse("login"), {"username": "r0", "password": "no"}).status_code == 200
        )
    refused = client.post(reverse("login"), {"username": "r0", "password": "pw"})
    assert refused.status_code == 429
    cache.clear()


def test_routing_is_a_project_option_in_the_admin_form(client, project, users):
    item = _item("safety-0")
    for index, user in enumerate(users[:2]):
        annotation_submit(item=item, annotator=user, label="safe", submission_key=f"s{index}")
    item.refresh_from_db()
    assert (item.label_count, item.is_open) == (2, False)  # k = 2: done
    admin = get_user_model().objects.create_superuser("boss", password="pw")
    client.force_login(admin)
    page = client.get(reverse("admin:annotation_project_change", args=[project.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'name="routing"' in body and 'value="uncertainty_first"' in body
    form = {
        "name": project.name,
        "slug": project.slug,
        "raters_per_item": 3,
        "routing": "uncertainty_first",
        "heldout_percent": project.heldout_percent,
        # The members inline (Membership), left as it is.
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }
    assert client.post(page.request["PATH_INFO"], form).status_code == 302
    project.refresh_from_db()
    assert project.routing == Project.Routing.UNCERTAINTY_FIRST and project.raters_per_item == 3
    item.refresh_from_db()
    assert item.is_open  # a third rater is now wanted
    assert assignment_claim_next(project=project, rater=users[2]) is not None
