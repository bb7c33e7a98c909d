import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Item, Project
from webapp.annotation.services import (
    LABEL_NOT_IN_TASK,
    annotation_submit,
    assignment_claim_next,
    items_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    return demo_project_ensure(n_per_task=20)


@pytest.fixture
def rater():
    return get_user_model().objects.create_user("rater2", password="pw")


def test_demo_project_is_flame_formatted_and_idempotent(project):
    count = project.items.count()
    assert 30 <= count <= 40
    item = project.items.first()
    assert item.flame_prompt.startswith("INSTRUCTIONS:\ntitle: ")
    assert "\nCONTEXT:\n" in item.flame_prompt
    assert item.flame_prompt.endswith("EVALUATION:\nchoice:")
    assert item.gold_label in {"A", "B"}
    demo_project_ensure(n_per_task=20)
    assert project.items.count() == count
    assert project.items.filter(split=Item.Split.HELDOUT).exists()


def test_submit_is_idempotent_for_the_same_key(project, rater):
    item = project.items.first()
    first, created = annotation_submit(item=item, annotator=rater, label="A", submission_key="k1")
    again, created_again = annotation_submit(
        item=item, annotator=rater, label="A", submission_key="k1"
    )
    assert created is True and created_again is False
    assert first.pk == again.pk
    assert Annotation.objects.filter(item=item).count() == 1


def test_second_submission_from_another_tab_keeps_one_label(project, rater):
    item = project.items.first()
    annotation_submit(item=item, annotator=rater, label="A", submission_key="tab1")
    kept, created = annotation_submit(item=item, annotator=rater, label="B", submission_key="tab2")
    assert created is False and kept.label == "A"
    assert Annotation.objects.filter(item=item, annotator=rater).count() == 1


def test_label_outside_the_task_is_rejected(project, rater):
    item = project.items.first()
    with pytest.raises(ValidationError) as error:
        annotation_submit(item=item, annotator=rater, label="C", submission_key="k")
    assert error.value.messages == [LABEL_NOT_IN_TASK.format(label="C", labels=["A", "B", "tie"])]
    assert not Annotation.objects.exists()


def test_two_raters_never_claim_the_same_item_when_one_rater_per_item(project, rater):
    other = get_user_model().objects.create_user("rater3", password="pw")
    first = assignment_claim_next(project=project, rater=rater)
    second = assignment_claim_next(project=project, rater=other)
    assert first is not None and second is not None and first.pk != second.pk
    # Asking again returns the rater's own unexpired claim.
    assert assignment_claim_next(project=project, rater=rater).pk == first.pk


def test_a_labelled_item_is_not_handed_out_again(project, rater):
    item = assignment_claim_next(project=project, rater=rater)
    annotation_submit(item=item, annotator=rater, label="A", submission_key="x")
    assert assignment_claim_next(project=project, rater=rater).pk != item.pk


def test_items_create_rejects_a_bad_example_and_writes_nothing(project):
    definition = project.tasks.get(name="demo_arithmetic")
    before = Item.objects.count()
    good = Example(
        task=definition.name,
        id="g",
        label="A",
        context={"question": "q", RESPONSE_A: "1", RESPONSE_B: "2"},
    )
    bad = Example(task=definition.name, id="b", label="A", context={"question": "q"})
    with pytest.raises(ValueError, match="context lacks field 'response A'"):
        items_create(project=project, definition=definition, examples=[good, bad])
    assert Item.objects.count() == before
