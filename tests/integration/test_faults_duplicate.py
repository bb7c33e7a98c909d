"""The same message delivered twice, to two workers: one run, one version."""

import pytest

from tests.conftest import wait_until
from tests.integration.faults import fault_env, fault_redis, publish, run_settled, start_worker
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun
from webapp.retraining.tasks import training_run_execute_task

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fault_redis"]


def test_same_message_twice_runs_once(worker_env, fault_redis, tmp_path):
    project = demo_project_ensure(n_per_task=20)
    run = TrainingRun.objects.create(
        project=project, trigger="manual", preset="smoke", config_overrides={"steps": 40}
    )
    env = fault_env(worker_env, fault_redis.url, EMBER_RUN_LEASE_SECONDS="30")
    workers = [start_worker(env, name, tmp_path, queues="train") for name in ("a", "b")]
    try:
        for _ in range(2):
            publish(training_run_execute_task, (run.pk,), fault_redis.url, task_id="same-id")
        run = run_settled(run.pk)
        wait_until(
            lambda: sum(w.log().count("succeeded in") for w in workers) == 2,
            timeout=60,
            what="both deliveries to be processed",
        )
    finally:
        for worker in workers:
            worker.stop()
    logs = [worker.log() for worker in workers]
    assert all("[same-id] received" in log for log in logs), "each worker got one delivery"
    assert run.status == "succeeded", run.error
    assert run.attempts == 1 and run.retries == 0
    assert AutoraterVersion.objects.filter(project=project).count() == 1
