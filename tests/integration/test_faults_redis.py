"""Redis (no persistence) is restarted: the labels raters submit while it is down are kept,
a retrain requested meanwhile is not lost, and the queued work completes once it is back
(the worker reconnects; beat's recover check resends what the broker lost)."""

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, wait_until
from tests.integration.faults import fault_env, fault_redis, run_settled, start_beat, start_worker
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Item
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.retraining.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fault_redis"]

WEB = textwrap.dedent(
    """
    import django, sys
    django.setup()
    from django.contrib.auth import get_user_model
    from webapp.annotation.models import Item, Project
    from webapp.annotation.rater_services import annotation_submit
    from webapp.retraining.services import training_run_request
    project = Project.objects.get(slug="demo")
    rater = get_user_model().objects.get(username="rater")
    items = Item.objects.filter(project=project, split="train").order_by("pk")[:3]
    for n, item in enumerate(items):
        annotation_submit(item=item, annotator=rater, label="A", submission_key=f"down-{n}")
    run = training_run_request(project=project, trigger="manual")
    print("RUN", run.pk)
    """
)


def test_redis_restart_keeps_labels_and_queued_work_completes(worker_env, fault_redis, tmp_path):
    project = demo_project_ensure(n_per_task=20)
    env = fault_env(worker_env, fault_redis.url)
    worker = start_worker(env, "r", tmp_path)
    fault_redis.stop()
    web = subprocess.run(
        [sys.executable, "-c", WEB],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert web.returncode == 0, web.stderr[-3000:]
    run_id = int(web.stdout.split("RUN")[1])
    assert Annotation.objects.filter(item__project=project).count() == 3
    assert TrainingRun.objects.get(pk=run_id).status == "queued"
    fault_redis.start()
    beat = start_beat(env, tmp_path)
    try:
        run = run_settled(run_id)
        assert run.status == "succeeded", run.error
        version = AutoraterVersion.objects.get(training_run=run)
        assert version.status == "promoted"
        n_items = Item.objects.filter(project=project).count()
        wait_until(
            lambda: ModelJudgment.objects.filter(version=version).count() == n_items,
            timeout=120,
            what="the new version to judge every item",
        )
    finally:
        beat.stop()
        worker.stop()
    labels = Annotation.objects.filter(item__project=project)
    assert labels.count() == 3
    assert run.labels_cutoff_id >= max(label.pk for label in labels)
    snapshot = open(run.snapshot_path).read()
    assert snapshot.count('"source": "human"') == 3
    assert "Connection to broker lost" in worker.log() or "Cannot connect" in worker.log()
