"""Multi-host runs without worker processes (the real ones: tests/integration/
test_multihost_run.py): which runs get several hosts, joins that come late or twice, and what
the run panel says."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from webapp.annotation.demo import demo_project_ensure
from webapp.retraining.hosts import attempt_folder, host_join
from webapp.retraining.leases import run_claim
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return demo_project_ensure(n_per_task=2)


def test_flame_runs_take_the_configured_hosts_and_the_other_variants_one(project, settings):
    settings.EMBER_TRAIN_HOSTS = 3
    flame = training_run_request(project=project, trigger="manual", variant="flame")
    assert flame.hosts == 3
    flame.status = TrainingRun.Status.CANCELLED
    flame.save()
    rm = training_run_request(project=project, trigger="manual", variant="rm")
    assert rm.hosts == 1  # its stages run inside the worker


def test_a_join_for_an_attempt_that_is_over_or_already_joined_starts_nothing(project):
    run = TrainingRun.objects.create(project=project, trigger="manual", preset="smoke", hosts=2)
    claimed = run_claim(run.pk)
    TrainingRun.objects.filter(pk=run.pk).update(
        host_attempt="current",
        host_joins=[{"process": 0, "worker": claimed.worker, "joined_at": ""}],
    )
    assert host_join(run_id=run.pk, attempt="earlier", index=1) is None  # a late message
    TrainingRun.objects.filter(pk=run.pk).update(
        host_joins=[
            {"process": 0, "worker": claimed.worker, "joined_at": ""},
            {"process": 1, "worker": "elsewhere:1", "joined_at": ""},
        ]
    )
    assert host_join(run_id=run.pk, attempt="current", index=1) is None  # delivered twice
    assert len(TrainingRun.objects.get(pk=run.pk).host_joins) == 2
    assert not attempt_folder(run, "current").exists()  # no process was started


def test_the_run_panel_lists_the_hosts_and_who_joined(client, project):
    run = TrainingRun.objects.create(
        project=project,
        trigger="manual",
        preset="smoke",
        hosts=2,
        status="running",
        host_coordinator="10.0.0.5:4321",
        host_joins=[{"process": 0, "worker": "gpu-a:11", "joined_at": ""}],
    )
    client.force_login(get_user_model().objects.get(username="admin"))
    panel = client.get(reverse("run-progress", args=[run.pk])).content.decode()
    assert "Trains on 2 hosts" in panel and "process 0 on gpu-a:11" in panel
    assert "1 of 2 joined, waiting for the rest" in panel and "10.0.0.5:4321" in panel


def test_a_coordinator_address_this_host_cannot_open_is_said_plainly(settings):
    from webapp.retraining.hosts import _coordinator_host, _free_port

    settings.EMBER_TRAIN_COORDINATOR_HOST = "203.0.113.7"  # TEST-NET-3: not this machine's
    with pytest.raises(RuntimeError, match="set EMBER_TRAIN_COORDINATOR_HOST to an address"):
        _free_port(_coordinator_host())
    settings.EMBER_TRAIN_COORDINATOR_HOST = "127.0.0.1"
    assert _free_port(_coordinator_host()) > 0
