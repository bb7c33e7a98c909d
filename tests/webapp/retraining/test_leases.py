"""Run leases: who may run a message for a training run (no training here)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webapp.annotation.demo import demo_project_ensure
from webapp.retraining.leases import run_claim
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_cancel

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(settings):
    settings.EMBER_RUN_LEASE_SECONDS = 30
    settings.EMBER_RUN_MAX_ATTEMPTS = 2
    project = demo_project_ensure(n_per_task=2)
    return TrainingRun.objects.create(project=project, trigger="manual", preset="smoke")


def _expire(run):
    TrainingRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=31)
    )


def test_first_delivery_claims_a_duplicate_does_nothing(run):
    claimed = run_claim(run.pk)
    assert claimed.status == "running" and claimed.attempts == 1 and claimed.lease_token
    assert run_claim(run.pk) is None  # same message again while the lease is fresh
    assert TrainingRun.objects.get(pk=run.pk).attempts == 1


def test_expired_lease_is_taken_over_then_failed_after_max_attempts(run):
    first = run_claim(run.pk)
    _expire(run)
    second = run_claim(run.pk)
    assert second.attempts == 2 and second.lease_token != first.lease_token
    _expire(run)
    assert run_claim(run.pk) is None
    run.refresh_from_db()
    assert run.status == "failed" and "2 times" in run.error and run.finished_at


def test_own_retry_continues_under_its_lease(run):
    first = run_claim(run.pk)
    again = run_claim(run.pk, resume_token=first.lease_token)
    assert again.retries == 1 and again.attempts == 1
    assert run_claim(run.pk, resume_token="someone-else") is None


def test_finished_runs_never_run_again(run):
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded")
    assert run_claim(run.pk) is None


def test_cancel_queued_is_immediate_running_is_a_request(run):
    cancelled = training_run_cancel(run=run)
    assert cancelled.status == "cancelled" and run_claim(run.pk) is None
    other = TrainingRun.objects.create(project=run.project, trigger="manual", preset="smoke")
    run_claim(other.pk)
    requested = training_run_cancel(run=other)
    assert requested.status == "running" and requested.cancel_requested
