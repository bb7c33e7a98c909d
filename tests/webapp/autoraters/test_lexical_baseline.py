"""The lexical baseline (TF-IDF + logistic regression, trained on the run's snapshot) beside
every version on the same held-out items: computed by a real retrain, stored with the version's
metrics and report, shown on the report page and in the versions table, with a marker when the
autorater does not beat it beyond noise."""

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from evaluation.baselines import FunctionJudge, oracle_judge
from evaluation.report import full_report, write_report
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.evaluation import lexical_baseline, scorable
from webapp.retraining.execution import training_run_execute
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_request

TASKS = {task.name: task for task in DEMO_TASKS}


def _wrong_judge() -> FunctionJudge:
    """Always picks a label other than the right one: loses to anything better than 0 %."""
    return FunctionJudge(
        lambda task, example: next(label for label in task.labels if label != example.label),
        "wrong",
    )


@pytest.fixture(scope="module")
def data():
    train = scorable(TASKS, generate_demo_examples(60, seed=1))
    heldout = scorable(TASKS, generate_demo_examples(30, seed=2))
    return train, heldout


def test_outcome_follows_the_paired_interval(data):
    train, heldout = data
    beats = lexical_baseline(TASKS, train, heldout, oracle_judge().judge(TASKS, heldout))
    assert beats["outcome"] == "beats" and beats["beats_baseline"]
    assert beats["autorater_accuracy"]["value"] == 1.0 and beats["n"] == len(heldout)
    assert beats["difference"]["ci"][0] > 0 and beats["train_examples"] == len(train)
    assert set(beats["per_task"]) == {"demo_arithmetic", "demo_keyword"}

    loses = lexical_baseline(TASKS, train, heldout, _wrong_judge().judge(TASKS, heldout))
    assert loses["outcome"] == "loses" and not loses["beats_baseline"]
    assert loses["difference"]["ci"][1] < 0
    assert loses["accuracy"] == beats["accuracy"]  # the same baseline, trained the same way
    # Counts are paired per item: the baseline's hits are exactly the "only baseline" ones.
    hits = round(loses["accuracy"]["value"] * len(heldout))
    assert loses["paired_counts"]["only_baseline"] == hits

    from evaluation.lexical import train_lexical

    same = train_lexical(TASKS, train).judge(TASKS, heldout)
    tie = lexical_baseline(TASKS, train, heldout, same)
    assert tie["outcome"] == "tie" and tie["difference"]["value"] == 0

    empty = lexical_baseline(TASKS, train, [], [])
    assert empty["outcome"] == "no items" and not empty["beats_baseline"]


def _admin(client):
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


@pytest.mark.django_db
def test_marker_when_the_autorater_loses_and_text_is_escaped(client, data, tmp_path):
    train, heldout = data
    project = demo_project_ensure(n_per_task=2)
    wrong = _wrong_judge()
    baseline = lexical_baseline(TASKS, train, heldout, wrong.judge(TASKS, heldout))
    write_report(full_report(wrong, TASKS, heldout, n_bootstrap=20, bias=False), tmp_path)
    loser = AutoraterVersion.objects.create(
        project=project,
        number=1,
        checkpoint_dir="/nonexistent",
        snapshot_hash="a" * 64,
        metrics={"accuracy": 0.0, "n": len(heldout), "lexical_baseline": baseline},
        report_dir=str(tmp_path),
    )
    winner = AutoraterVersion.objects.create(
        project=project,
        number=2,
        checkpoint_dir="/nonexistent",
        snapshot_hash="b" * 64,
        metrics={
            "accuracy": 1.0,
            "lexical_baseline": lexical_baseline(
                TASKS, train, heldout, oracle_judge().judge(TASKS, heldout)
            ),
        },
    )
    failed = AutoraterVersion.objects.create(
        project=project,
        number=3,
        checkpoint_dir="/nonexistent",
        snapshot_hash="c" * 64,
        metrics={"lexical_baseline": {"name": "x", "error": "<script>alert(1)</script>"}},
    )
    admin = _admin(client)

    page = admin.get(reverse("autorater", args=[project.slug])).content.decode()
    rows = {v.number: _row(page, v.number) for v in (loser, winner, failed)}
    assert "loses to the baseline" in rows[1] and 'data-testid="baseline-marker"' in rows[1]
    accuracy = f"{baseline['accuracy']['value'] * 100:.1f}%"
    assert f'data-testid="baseline-accuracy">{accuracy}<' in rows[1]
    assert 'data-testid="baseline-marker"' not in rows[2]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rows[3] and "<script>alert" not in page

    report = admin.get(reverse("version-report", args=[loser.pk])).content.decode()
    assert "Against the lexical baseline" in report
    assert "The autorater loses to the lexical baseline." in report
    assert f'data-testid="report-baseline-accuracy">{accuracy}<' in report


def _row(page: str, number: int) -> str:
    start = page.index(f'data-version="{number}"')
    return page[start : page.index("</tr>", start)]


@pytest.mark.django_db(transaction=True)
def test_a_retrain_stores_the_baseline_with_the_version_and_its_report(client, settings):
    from webapp.config.celery import app

    project = demo_project_ensure(n_per_task=20)
    run = training_run_request(
        project=project, trigger="manual", config_overrides={"steps": 24, "log_every": 4}
    )
    try:
        run = training_run_execute(run_id=run.pk)
    finally:
        app.control.purge()  # promotion queued judging; nothing consumes it here
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    version = AutoraterVersion.objects.get(training_run=run)
    baseline = version.metrics["lexical_baseline"]
    assert baseline["name"] == "TF-IDF + logistic regression"
    assert baseline["n"] == version.metrics["n"] > 0
    assert baseline["autorater_accuracy"]["value"] == pytest.approx(version.metrics["accuracy"])
    assert baseline["train_examples"] == run.snapshot_examples
    assert baseline["outcome"] in ("beats", "tie", "loses")
    assert run.metrics["lexical_baseline"] == baseline

    report = json.loads((Path(version.report_dir) / "report.json").read_text())
    assert report["lexical_baseline"] == baseline
    assert report["baselines"]["tfidf_logreg"]["accuracy"] == baseline["accuracy"]

    admin = _admin(client)
    page = admin.get(reverse("version-report", args=[version.pk])).content.decode()
    accuracy = f"{baseline['accuracy']['value'] * 100:.1f}%"
    assert f'data-testid="report-baseline-accuracy">{accuracy}<' in page
    row = _row(admin.get(reverse("autorater", args=[project.slug])).content.decode(), 1)
    assert f'data-testid="baseline-accuracy">{accuracy}<' in row
    assert ('data-testid="baseline-marker"' in row) == (baseline["outcome"] != "beats")
    panel = admin.get(reverse("run-progress", args=[run.pk])).content.decode()
    assert f'data-testid="run-baseline">{accuracy}' in panel
