"""Postgres becomes unreachable during a job (a proxy between the worker and Postgres drops
every connection): training goes on, the writes that must happen retry, and once the
database is back the job finishes with one version."""

import pytest
from django.conf import settings

from tests.conftest import wait_until
from tests.integration.faults import (
    TcpProxy,
    fault_env,
    fault_redis,
    publish,
    run_settled,
    start_worker,
)
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun
from webapp.retraining.tasks import training_run_execute_task

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fault_redis"]


def test_postgres_outage_during_a_job_retries_and_finishes(worker_env, fault_redis, tmp_path):
    project = demo_project_ensure(n_per_task=20)
    run = TrainingRun.objects.create(
        project=project,
        trigger="manual",
        preset="smoke",
        config_overrides={"steps": 160, "checkpoint_every": 20},
    )
    db = settings.DATABASES["default"]
    proxy = TcpProxy(int(db.get("PORT") or 5432), db.get("HOST") or "127.0.0.1")
    proxy.restore()
    proxied = worker_env["DATABASE_URL"].replace(f":{db.get('PORT') or 5432}/", f":{proxy.port}/")
    assert proxied != worker_env["DATABASE_URL"]
    env = fault_env(worker_env, fault_redis.url, DATABASE_URL=proxied)
    worker = start_worker(env, "pg", tmp_path, queues="train,judge")
    try:
        publish(training_run_execute_task, (run.pk,), fault_redis.url)
        wait_until(
            lambda: TrainingRun.objects.get(pk=run.pk).step >= 20,
            timeout=240,
            interval=0.2,
            what="training to start",
        )
        proxy.cut()
        # Training finishes without the database; the next write fails and the task retries.
        wait_until(lambda: "Retry in" in worker.log(), timeout=240, what="a retry")
        cut_at = TrainingRun.objects.get(pk=run.pk)
        assert cut_at.status == "running"
        proxy.restore()
        run = run_settled(run.pk)
    finally:
        worker.stop()
        proxy.cut()
    assert run.status == "succeeded", run.error + worker.log()[-3000:]
    assert run.retries >= 1 and run.attempts == 1
    assert run.step == 160
    assert AutoraterVersion.objects.filter(project=project).count() == 1
