import json
from collections import Counter

import pytest
from django.contrib.auth import get_user_model

from judging.task_format import Example, swap_pairwise
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Item
from webapp.annotation.rater_services import annotation_submit
from webapp.retraining.beat import fold_and_retrain_check
from webapp.retraining.snapshots import dataset_snapshot_export, heldout_examples

pytestmark = pytest.mark.django_db


def test_snapshot_folds_human_labels_in_and_keeps_heldout_out(tmp_path, settings):
    settings.EMBER_DEMO_MIXTURE_PER_TASK = 200
    project = demo_project_ensure(n_per_task=20)
    rater = get_user_model().objects.get(username="rater")
    train_item = project.items.filter(split=Item.Split.TRAIN).first()
    heldout_item = project.items.filter(split=Item.Split.HELDOUT).first()
    annotation_submit(item=train_item, annotator=rater, label="tie", submission_key="1")
    annotation_submit(item=heldout_item, annotator=rater, label="A", submission_key="2")

    snapshot = dataset_snapshot_export(project=project, directory=tmp_path)
    lines = [json.loads(line) for line in snapshot.path.read_text().splitlines()]
    n_train = project.items.filter(split=Item.Split.TRAIN).count()
    sources = Counter(line["provenance"]["source"] for line in lines)
    assert snapshot.n_examples == len(lines)
    assert sources["gold"] == n_train and sources["human"] == 1
    assert 0 < sources["builtin:demo"] <= 400
    heldout_contexts = {
        json.dumps(item.context, sort_keys=True)
        for item in project.items.filter(split=Item.Split.HELDOUT)
    }
    trained = {json.dumps(line["context"], sort_keys=True) for line in lines}
    swapped = {
        json.dumps(swap_pairwise(Example.from_dict(line)).context, sort_keys=True) for line in lines
    }
    assert not heldout_contexts & (trained | swapped)
    human = [line for line in lines if line["provenance"]["source"] == "human"]
    assert [(h["provenance"]["item"], h["label"]) for h in human] == [(train_item.pk, "tie")]
    assert all(line["provenance"].get("item") != heldout_item.pk for line in lines)
    assert snapshot.path.name == f"{snapshot.sha256}.jsonl"
    # Same data, same snapshot.
    assert dataset_snapshot_export(project=project, directory=tmp_path).sha256 == snapshot.sha256
    assert len(heldout_examples(project)) == project.items.filter(split=Item.Split.HELDOUT).count()


def test_fold_check_waits_for_enough_new_labels(settings, django_capture_on_commit_callbacks):
    settings.EMBER_RETRAIN_MIN_NEW_LABELS = 2
    project = demo_project_ensure(n_per_task=5)
    rater = get_user_model().objects.get(username="rater")
    items = list(project.items.all()[:2])
    annotation_submit(item=items[0], annotator=rater, label="A", submission_key="a")
    assert fold_and_retrain_check() == []
    annotation_submit(item=items[1], annotator=rater, label="A", submission_key="b")
    with django_capture_on_commit_callbacks() as callbacks:
        started = fold_and_retrain_check()
    assert len(started) == 1 and len(callbacks) == 1
    assert project.training_runs.get().trigger == "schedule"
    # A second check while that run is queued starts nothing more.
    assert fold_and_retrain_check() == []
