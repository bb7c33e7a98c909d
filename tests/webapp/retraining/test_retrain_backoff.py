"""Beat's fold-and-retrain check backs off after failed automatic runs (their labels are still
"new", so without it every check would start another failing run); manual retrains never wait."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.rater_services import annotation_submit
from webapp.retraining.beat import fold_and_retrain_check
from webapp.retraining.models import TrainingRun
from webapp.retraining.selectors import retrain_backoff_delay, retrain_backoff_for
from webapp.retraining.services import training_run_request

pytestmark = pytest.mark.django_db

BASE = 120.0
CAP = 1000.0


@pytest.fixture
def project(settings):
    settings.EMBER_RETRAIN_MIN_NEW_LABELS = 1
    settings.EMBER_RETRAIN_BACKOFF_SECONDS = BASE
    settings.EMBER_RETRAIN_BACKOFF_MAX_SECONDS = CAP
    project = demo_project_ensure(n_per_task=3)
    rater = get_user_model().objects.get(username="rater")
    annotation_submit(item=project.items.first(), annotator=rater, label="A", submission_key="k")
    return project


def _finished(project, *, trigger="schedule", status="failed", seconds_ago=0.0) -> TrainingRun:
    return TrainingRun.objects.create(
        project=project,
        trigger=trigger,
        status=status,
        preset="smoke",
        finished_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def _age(run: TrainingRun, seconds: float) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now() - timedelta(seconds=seconds)
    )


def _check_started(project) -> bool:
    started = fold_and_retrain_check()
    new = project.training_runs.filter(status__in=TrainingRun.ACTIVE)
    assert started == list(new.values_list("pk", flat=True))
    return bool(started)


def test_a_failed_beat_run_holds_the_next_one_until_the_backoff_has_passed(project):
    failed = _finished(project)
    assert not _check_started(project)
    _age(failed, BASE - 5)
    assert not _check_started(project)
    _age(failed, BASE + 5)
    assert _check_started(project)
    assert project.training_runs.filter(status="queued").get().trigger == "schedule"


def test_the_delay_doubles_per_consecutive_failure_and_is_capped(project):
    assert [retrain_backoff_delay(n).total_seconds() for n in range(7)] == [
        0,
        BASE,
        2 * BASE,
        4 * BASE,
        8 * BASE,
        CAP,
        CAP,
    ]
    assert retrain_backoff_delay(10_000).total_seconds() == CAP
    # Two failures in a row: the wait is 2 x BASE, so past one BASE the check still waits.
    _finished(project, seconds_ago=3000)
    second = _finished(project, seconds_ago=BASE + 5)
    backoff = retrain_backoff_for(project)
    assert backoff.failures == 2
    assert backoff.next_try_at - backoff.last_failed_at == timedelta(seconds=2 * BASE)
    assert not _check_started(project)
    _age(second, 2 * BASE + 5)
    assert _check_started(project)


def test_many_failures_wait_at_most_the_cap(project):
    for _ in range(6):
        last = _finished(project, seconds_ago=CAP - 5)
    backoff = retrain_backoff_for(project)
    assert backoff.failures == 6
    assert backoff.next_try_at - backoff.last_failed_at == timedelta(seconds=CAP)
    assert not _check_started(project)
    _age(last, CAP + 5)
    assert retrain_backoff_for(project) is None
    assert _check_started(project)


@pytest.mark.parametrize(
    "reset",
    [{"trigger": "schedule", "status": "succeeded"}, {"trigger": "manual", "status": "failed"}],
)
def test_a_success_or_a_manual_run_resets_the_count(project, reset):
    for _ in range(3):
        _finished(project, seconds_ago=10)
    assert retrain_backoff_for(project).failures == 3
    _finished(project, seconds_ago=5, **reset)
    assert retrain_backoff_for(project) is None
    _finished(project)
    backoff = retrain_backoff_for(project)
    assert backoff.failures == 1
    assert backoff.next_try_at - backoff.last_failed_at == timedelta(seconds=BASE)


def test_cancelled_and_bootstrap_runs_neither_count_nor_reset(project):
    _finished(project, seconds_ago=30)
    _finished(project, status="cancelled", seconds_ago=20)
    _finished(project, trigger="bootstrap", seconds_ago=15)
    _finished(project, seconds_ago=10)
    assert retrain_backoff_for(project).failures == 2


def test_a_manual_retrain_is_never_blocked(project, client):
    for _ in range(3):
        _finished(project)
    assert retrain_backoff_for(project) is not None
    run = training_run_request(project=project, trigger=TrainingRun.Trigger.MANUAL)
    assert run.status == "queued" and run.trigger == "manual"
    run.delete()
    client.force_login(get_user_model().objects.get(username="admin"))
    response = client.post(reverse("retrain", args=[project.slug]), {"variant": "flame"})
    assert response.status_code == 200
    assert project.training_runs.filter(status="queued", trigger="manual").exists()


def test_the_autorater_page_shows_the_pause(project, client):
    client.force_login(get_user_model().objects.get(username="admin"))
    url = reverse("autorater", args=[project.slug])
    assert 'data-testid="retrain-paused"' not in client.get(url).content.decode()
    for _ in range(3):
        last = _finished(project)
    backoff = retrain_backoff_for(project)
    page = client.get(url).content.decode()
    hh_mm = timezone.localtime(backoff.next_try_at).strftime("%H:%M")
    assert "Automatic retraining paused after 3 failed runs; next try after" in page
    assert f">{hh_mm}</time>" in page
    _age(last, 4 * BASE + 5)
    assert 'data-testid="retrain-paused"' not in client.get(url).content.decode()
