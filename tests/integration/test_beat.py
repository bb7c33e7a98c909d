"""Celery beat runs the fold-and-retrain check on its own schedule."""

import subprocess

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import CELERY, ROOT, wait_until
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.rater_services import annotation_submit
from webapp.retraining.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_starts_a_retrain_after_enough_new_labels(celery_worker, worker_env, tmp_path):
    project = demo_project_ensure(n_per_task=10)
    project.retrain_min_new_labels = 2
    project.save(update_fields=["retrain_min_new_labels"])
    rater = get_user_model().objects.get(username="rater")
    for key, item in enumerate(project.items.all()[:2]):
        annotation_submit(item=item, annotator=rater, label="A", submission_key=f"beat-{key}")

    beat = subprocess.Popen(
        [
            str(CELERY),
            "-A",
            "webapp.config",
            "beat",
            "-l",
            "INFO",
            "-s",
            str(tmp_path / "schedule"),
        ],
        cwd=ROOT,
        env={**worker_env, "EMBER_RETRAIN_CHECK_SECONDS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run = wait_until(
            lambda: TrainingRun.objects.filter(project=project).first(),
            timeout=60,
            what="beat to start a retrain",
        )
    finally:
        beat.terminate()
        beat.wait(timeout=20)
    assert run.trigger == TrainingRun.Trigger.SCHEDULE
    # The worker trains it; the snapshot holds the two new labels.
    wait_until(
        lambda: TrainingRun.objects.get(pk=run.pk).status not in TrainingRun.ACTIVE,
        timeout=300,
        what="the scheduled run to finish",
    )
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.labels_cutoff_id > 0
