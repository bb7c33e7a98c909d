"""The Self-Taught variant's rounds and judgments sampled per pair are project training
settings. A real retrain (training_run_execute in this process: Postgres, Flax, the generative
loop, no Celery worker) with 2 rounds of 2 samples runs the loop that many times, and the
version's lineage, its report and the versions table say so. The tiny model writes token soup:
this checks what reaches the loop, not what it writes."""

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.execution import training_run_execute
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_request, training_settings_update


@pytest.mark.django_db(transaction=True)
def test_a_self_taught_run_takes_its_rounds_and_samples_from_the_settings(client):
    from webapp.config.celery import app

    project = demo_project_ensure(n_per_task=4)
    values = {"variant": "self-taught", "self_taught_rounds": 2, "self_taught_samples": 2}
    training_settings_update(project=project, values=values)
    run = training_run_request(
        project=project, trigger="manual", config_overrides={"steps": 4, "log_every": 2}
    )
    try:
        run = training_run_execute(run_id=run.pk)
    finally:
        app.control.purge()  # the request's message and promotion's judging; none consumed here
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.variant == "self-taught"
    version = AutoraterVersion.objects.get(training_run=run)
    assert version.config["variant"] == "self-taught"
    assert version.config["self_taught"] == {"rounds": 2, "samples": 2}

    loop = json.loads((Path(version.report_dir) / "report.json").read_text())["self_taught"]
    assert [entry["round"] for entry in loop["rounds"]] == [0, 1, 2]  # the seed, then 2 rounds
    assert loop["samples"] == 2
    for entry in loop["rounds"][1:]:
        print({k: entry.get(k) for k in ("round", "pairs", "judgments_sampled", "kept", "trained")})
        assert entry["judgments_sampled"] == 2 * entry["pairs"]
    assert sum(entry["pairs"] for entry in loop["rounds"][1:]) > 0

    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(reverse("autorater", args=[project.slug])).content.decode()
    assert '<span data-testid="lineage-self-taught">2 rounds, 2 samples per pair</span>' in page
