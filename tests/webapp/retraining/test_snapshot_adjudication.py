"""Adjudication in the training mixture: an overruled label is never trained on as a target,
and the adjudicated item gives one example with the adjudicated label."""

import json

import pytest
from django.contrib.auth import get_user_model

from judging.task_format import Example
from tests.factories import classification_task
from webapp.annotation.models import Item, Project
from webapp.annotation.rater_services import annotation_submit
from webapp.annotation.services import item_adjudicate, items_create, task_definition_upsert
from webapp.retraining.snapshots import dataset_snapshot_export, heldout_examples

pytestmark = pytest.mark.django_db

SAFETY = classification_task("safety")


@pytest.fixture
def users():
    make = get_user_model().objects.create_user
    return [make(f"r{i}", password="pw") for i in range(4)]


@pytest.fixture
def project(users):
    project = Project.objects.create(name="P", slug="p", raters_per_item=3)
    project.raters.add(*users)
    definition = task_definition_upsert(project=project, task=SAFETY)
    examples = [
        Example(task="safety", id=name, context={"text": name})
        for name in ("settled", "open", "held")
    ]
    items_create(project=project, definition=definition, examples=examples, heldout_ids={"held"})
    return project


def _item(name: str) -> Item:
    return Item.objects.get(external_id=name)


def _label(item: Item, user, label: str) -> None:
    annotation_submit(item=item, annotator=user, label=label, submission_key=f"{item.pk}-{user.pk}")


def _lines(project, directory) -> list[dict]:
    snapshot = dataset_snapshot_export(project=project, directory=directory)
    lines = [json.loads(line) for line in snapshot.path.read_text().splitlines()]
    assert snapshot.n_examples == len(lines)
    return lines


def _for_item(lines: list[dict], item: Item) -> list[tuple[str, str]]:
    return sorted(
        (line["provenance"]["source"], line["label"])
        for line in lines
        if line["provenance"].get("item") == item.pk
    )


def test_adjudicated_item_trains_on_the_adjudicated_label_only(project, users, tmp_path):
    settled, still_open = _item("settled"), _item("open")
    _label(settled, users[0], "safe")
    _label(settled, users[1], "unsafe")
    _label(still_open, users[0], "safe")
    _label(still_open, users[1], "unsafe")

    before = _lines(project, tmp_path / "before")
    # Before adjudication both items train on both raters' labels, as they always did.
    assert _for_item(before, settled) == [("human", "safe"), ("human", "unsafe")]
    assert _for_item(before, still_open) == [("human", "safe"), ("human", "unsafe")]

    item_adjudicate(item=settled, actor=users[3], label="unsafe")
    after = _lines(project, tmp_path / "after")
    # One example, the adjudicated label: the overruled "safe" is gone, and the agreeing
    # rater's "unsafe" is folded into it rather than counted a second time.
    assert _for_item(after, settled) == [("adjudicated", "unsafe")]
    # The unadjudicated disagreement keeps both labels.
    assert _for_item(after, still_open) == [("human", "safe"), ("human", "unsafe")]
    assert len(after) == len(before) - 1


def test_heldout_uses_the_adjudicated_label_over_the_majority(project, users):
    held = _item("held")
    _label(held, users[0], "safe")
    _label(held, users[1], "safe")
    _label(held, users[2], "unsafe")

    def heldout_label() -> str:
        [example] = [e for e in heldout_examples(project) if e.id == f"item-{held.pk}"]
        return example.label

    assert heldout_label() == "safe"  # the majority while nobody has adjudicated
    item_adjudicate(item=held, actor=users[3], label="unsafe")
    assert heldout_label() == "unsafe"


def test_adjudicated_heldout_item_stays_out_of_training(project, users, tmp_path):
    held = _item("held")
    _label(_item("open"), users[0], "safe")
    _label(held, users[0], "safe")
    item_adjudicate(item=held, actor=users[3], label="unsafe")
    lines = _lines(project, tmp_path)
    assert lines and not [line for line in lines if line["id"] == f"item-{held.pk}"]
