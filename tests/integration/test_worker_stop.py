"""A training worker asked to stop (SIGTERM, as from a deploy) mid-run: it saves the training
state at its next step, hands the run back (queued, lease released, message re-sent at once)
and exits within seconds; a second worker then finishes the run from that state. No beat runs
and the lease is 10 minutes long, so only the hand-back can bring the run to the second worker.
Real parts: Postgres, a throwaway Redis, Celery worker processes (prefork, as in
docker-compose, and solo, as in ./scripts/run), Flax training."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import CELERY, ROOT, wait_until
from tests.integration.faults import Proc, fault_env, fault_redis, publish, run_settled
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.execution import _latest_state_step
from webapp.retraining.models import TrainingRun
from webapp.retraining.tasks import training_run_execute_task

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fault_redis"]

# Seconds a stopped worker may take to exit on this shared 2-core machine (it takes 2-5).
EXIT_BOUND = 20
STEPS = 240


class GroupProc(Proc):
    """A worker in its own process group, so a test can signal all its processes at once (as
    systemd's default KillMode does), pool children included."""

    def __init__(self, args: list[str], env: dict, log_path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "a")
        self.process = subprocess.Popen(
            [str(CELERY), "-A", "webapp.config", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _worker(env: dict, name: str, log_dir, pool: str, group: bool = False) -> Proc:
    args = ["worker", "-Q", "train", "-P", pool, "-l", "INFO", "-n", f"{name}-{os.getpid()}@%h"]
    if pool == "prefork":
        args += ["-c", "1", "--prefetch-multiplier", "1"]
    worker = (GroupProc if group else Proc)(
        [*args, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env,
        log_dir / f"{name}.log",
    )
    wait_until(lambda: "ready." in worker.log(), timeout=90, what=f"worker {name} to start")
    return worker


@pytest.mark.parametrize(
    ("pool", "target"),
    [
        ("prefork", "main"),  # docker stop: the main process only; children read its flag
        ("prefork", "group"),  # every process, the pool child too: it must not just die
        ("solo", "main"),  # ./scripts/run's workers
    ],
)
def test_stopped_worker_hands_run_back_and_next_worker_resumes(
    worker_env, fault_redis, tmp_path, pool, target
):
    project = demo_project_ensure(n_per_task=20)
    run = TrainingRun.objects.create(
        project=project,
        trigger="manual",
        preset="smoke",
        # No periodic checkpoints: a resume past step 0 can only come from the stop's own save.
        config_overrides={"steps": STEPS, "checkpoint_every": 0, "log_every": 2},
    )
    env = fault_env(
        worker_env,
        fault_redis.url,
        EMBER_RUN_LEASE_SECONDS="600",
        EMBER_RECOVER_SECONDS="3600",
    )
    first = _worker(env, "stopped", tmp_path, pool, group=target == "group")
    publish(training_run_execute_task, (run.pk,), fault_redis.url)
    wait_until(
        lambda: TrainingRun.objects.get(pk=run.pk).step >= 20,
        timeout=240,
        interval=0.1,
        what="training to pass step 20",
    )
    before = TrainingRun.objects.get(pk=run.pk)
    assert before.status == "running" and before.step < STEPS

    sent = time.monotonic()
    if target == "group":
        os.killpg(first.process.pid, signal.SIGTERM)
    else:
        first.process.send_signal(signal.SIGTERM)
    try:
        code = first.process.wait(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        first.kill()
        pytest.fail(f"worker still running {EXIT_BOUND} s after SIGTERM\n{first.log()[-3000:]}")
    exited_after = time.monotonic() - sent
    first.stop()
    assert code == 0, first.log()[-3000:]
    print(f"{pool} worker ({target}) exited {exited_after:.1f} s after SIGTERM at {before.step}")

    handed = TrainingRun.objects.get(pk=run.pk)
    assert handed.status == "queued", handed.error or first.log()[-3000:]
    assert handed.lease_token == "" and handed.heartbeat_at is None and handed.attempts == 1
    saved = _latest_state_step(Path(handed.state_dir))
    assert before.step <= saved < STEPS, (before.step, saved)
    assert "handed the run back" in first.log()
    # Re-sent at once (no beat, lease not expired): its message waits in the train queue.
    assert redis.Redis.from_url(fault_redis.url).llen("train") == 1

    second = _worker(env, "next", tmp_path, "solo")
    try:
        done = run_settled(run.pk, timeout=300)
    finally:
        second.stop()
    assert done.status == "succeeded", done.error + second.log()[-3000:]
    assert done.attempts == 1  # a hand-back is not a failed attempt
    assert done.resumed_from_step == saved > 0
    assert "handed back by a stopping worker; resuming" in second.log()
    assert done.worker != handed.worker
    steps = [step for step, _ in done.loss_history]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS
    assert AutoraterVersion.objects.filter(project=project).count() == 1
