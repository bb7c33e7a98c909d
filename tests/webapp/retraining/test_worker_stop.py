"""A stopping worker's hand-back, without a worker process (the real SIGTERM test is
tests/integration/test_worker_stop.py): the stop flag, releasing the lease, the next claim."""

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from webapp.annotation.demo import demo_project_ensure
from webapp.retraining import worker_stop
from webapp.retraining.execution import training_run_execute
from webapp.retraining.leases import Heartbeat, run_claim, run_hand_back
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_cancel

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    project = demo_project_ensure(n_per_task=2)
    return TrainingRun.objects.create(project=project, trigger="manual", preset="smoke")


@pytest.fixture
def stopping():
    worker_stop.request_stop()
    yield
    worker_stop.reset()


def test_the_stop_flag_stops_the_heartbeat_check(run):
    claimed = run_claim(run.pk)
    heartbeat = Heartbeat(run.pk, claimed.lease_token)
    assert not heartbeat.should_stop()
    worker_stop.request_stop()
    try:
        assert heartbeat.should_stop() and heartbeat.worker_stopping
        assert not heartbeat.cancelled and not heartbeat.lost
    finally:
        worker_stop.reset()
    assert not heartbeat.should_stop()


def test_hand_back_releases_the_lease_and_the_next_claim_resumes_without_an_attempt(run):
    claimed = run_claim(run.pk)
    assert not run_hand_back(run.pk, "not-the-holder")
    assert run_hand_back(run.pk, claimed.lease_token)
    handed = TrainingRun.objects.get(pk=run.pk)
    assert handed.status == "queued" and handed.lease_token == "" and handed.heartbeat_at is None
    assert handed.started_at == claimed.started_at and handed.enqueued_at is not None
    assert not run_hand_back(run.pk, claimed.lease_token)  # only once

    again = run_claim(run.pk)  # the next worker, at once: no lease to wait out
    assert again.status == "running" and again.lease_token not in ("", claimed.lease_token)
    assert again.attempts == 1 and again.started_at == claimed.started_at


def test_a_handed_back_run_can_be_cancelled_while_queued(run):
    claimed = run_claim(run.pk)
    run_hand_back(run.pk, claimed.lease_token)
    cancelled = training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))
    assert cancelled.status == "cancelled"
    assert run_claim(run.pk) is None


def test_a_stopping_worker_sends_a_new_message_back_instead_of_claiming(run, stopping):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("train")
    try:
        assert training_run_execute(run_id=run.pk) is None
        assert TrainingRun.objects.get(pk=run.pk).status == "queued"  # not claimed
        assert broker.llen("train") == 1  # left to the next worker
    finally:
        broker.delete("train")


def test_the_run_panel_says_the_run_was_handed_back(client, run):
    claimed = run_claim(run.pk)
    client.force_login(get_user_model().objects.get(username="admin"))
    url = reverse("run-progress", args=[run.pk])
    assert "handed back" not in client.get(url).content.decode()
    run_hand_back(run.pk, claimed.lease_token)
    panel = client.get(url).content.decode()
    assert 'data-testid="run-handed-back"' in panel and ">queued<" in panel
    assert 'hx-trigger="every 1s"' in panel  # still active: the page keeps polling
