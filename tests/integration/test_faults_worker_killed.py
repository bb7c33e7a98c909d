"""The training worker is killed mid-run (SIGKILL): when a worker returns, the recover check
resends the run and it resumes from its last training checkpoint; one version, never two.
Real parts: Postgres, a throwaway Redis, Celery worker and beat processes, Flax training."""

import pytest

from tests.conftest import wait_until
from tests.integration.faults import (
    fault_env,
    fault_redis,
    publish,
    run_settled,
    start_beat,
    start_worker,
)
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun
from webapp.retraining.tasks import training_run_execute_task

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fault_redis"]


def test_killed_worker_resumes_from_checkpoint_and_registers_one_version(
    worker_env, fault_redis, tmp_path
):
    project = demo_project_ensure(n_per_task=20)
    run = TrainingRun.objects.create(
        project=project,
        trigger="manual",
        preset="smoke",
        config_overrides={"steps": 160, "checkpoint_every": 20, "log_every": 4},
    )
    env = fault_env(worker_env, fault_redis.url)
    first = start_worker(env, "doomed", tmp_path)
    publish(training_run_execute_task, (run.pk,), fault_redis.url)
    wait_until(
        lambda: TrainingRun.objects.get(pk=run.pk).step >= 60,
        timeout=240,
        interval=0.2,
        what="training to pass step 60",
    )
    first.kill()
    killed_at = TrainingRun.objects.get(pk=run.pk)
    assert killed_at.status == "running" and killed_at.attempts == 1

    second = start_worker(env, "survivor", tmp_path)
    beat = start_beat(env, tmp_path)
    try:
        run = run_settled(run.pk)
    finally:
        beat.stop()
        second.stop()
    assert run.status == "succeeded", run.error + second.log()[-3000:]
    assert run.attempts == 2
    assert 20 <= run.resumed_from_step <= killed_at.step
    assert "resuming" in second.log()
    steps = [step for step, _ in run.loss_history]
    assert steps == sorted(set(steps)) and steps[-1] == 160
    assert AutoraterVersion.objects.filter(project=project).count() == 1
    assert AutoraterVersion.objects.get(project=project).training_run_id == run.pk
