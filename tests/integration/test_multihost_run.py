"""A multi-host run from the Retrain button: with EMBER_TRAIN_HOSTS=2, two Celery worker
processes on this machine form one training job (jax.distributed over a localhost coordinator,
one CPU device each, data parallel): the worker that takes the run is process 0, the other
joins from the train queue as process 1, and the registered version was trained by both. With
only one worker, the run fails saying that its peer did not join. Real parts: the live server,
Chromium, Postgres, Redis, Celery workers, Flax."""

import json
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.integration.conftest import login
from tests.integration.faults import fault_env, fault_redis, publish, run_settled, start_worker
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.execution import _latest_state_step
from webapp.retraining.hosts import attempt_folder
from webapp.retraining.models import TrainingRun, TrainingSettings
from webapp.retraining.tasks import training_run_execute_task

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fault_redis"]

STEPS = 40


def test_retrain_button_trains_one_run_on_two_worker_processes(
    live_server, celery_worker, browser, worker_env, settings, tmp_path
):
    settings.EMBER_TRAIN_HOSTS = 2
    project = demo_project_ensure(n_per_task=20)
    # A second train worker beside the session's worker: two processes, one job.
    second = start_worker(worker_env, "host2", tmp_path, "train")
    try:
        page = login(browser, live_server, "admin", "admin")
        page.goto(f"{live_server.url}/p/{project.slug}/autorater/")
        settings_form = page.get_by_test_id("training-settings")
        settings_form.get_by_test_id("training-overrides").locator("summary").click()
        settings_form.locator("input[name='override:steps']").fill(str(STEPS))
        settings_form.locator("button[type=submit]").click()
        page.get_by_test_id("settings-saved").wait_for()
        page.select_option("select[name=variant]", "flame")
        page.get_by_test_id("retrain").click()
        page.get_by_test_id("run-hosts").wait_for()
        assert "Trains on 2 hosts" in page.get_by_test_id("run-hosts").inner_text()

        def finished():
            status = page.get_by_test_id("run-status").inner_text()
            return status in {"succeeded", "failed", "cancelled"} and status

        status = wait_until(finished, timeout=400, interval=0.5, what="the 2-host run")
        run = TrainingRun.objects.get(project=project)
        assert status == "succeeded", run.error + second.log()[-3000:]
        shown = page.get_by_test_id("run-host").all_inner_texts()

        # The next retrain continues from the live version, with its tokenizer, on both hosts
        # (the base is a version: this test deployment has no foundation to start from).
        first = AutoraterVersion.objects.get(training_run=run)
        TrainingSettings.objects.filter(project=project).update(
            base=TrainingSettings.Base.VERSION, base_version=first
        )
        page.get_by_test_id("retrain").click()
        page.wait_for_function(
            f"document.querySelector('[data-testid=run-panel]').innerText"
            f".includes('Run {run.pk + 1} ')"
        )
        status = wait_until(finished, timeout=400, interval=0.5, what="the second 2-host run")
        again = TrainingRun.objects.get(pk=run.pk + 1)
        assert status == "succeeded", again.error + second.log()[-3000:]
    finally:
        second.stop()

    assert run.hosts == 2
    joins = sorted(run.host_joins, key=lambda join: join["process"])
    assert [join["process"] for join in joins] == [0, 1]
    assert joins[0]["worker"] == run.worker  # the run's holder is process 0
    assert joins[0]["worker"] != joins[1]["worker"]  # two worker processes
    assert shown == [f"process {j['process']} on {j['worker']}" for j in joins]

    version = AutoraterVersion.objects.get(training_run=run)
    metadata = json.loads((Path(version.checkpoint_dir) / "metadata.json").read_text())
    assert metadata["processes"] == 2 and metadata["devices"] == 2
    assert metadata["steps"] == STEPS and run.step == STEPS
    assert [step for step, _ in run.loss_history][-1] == STEPS  # progress relayed to the page
    folder = attempt_folder(run, run.host_attempt)
    assert (folder / "process1.exit").read_text() == "0"
    second_worker = [j for j in joins if j["worker"].endswith(f":{second.process.pid}")]
    assert len(second_worker) == 1  # the second worker process was one of the two hosts

    continued = AutoraterVersion.objects.get(training_run=again)
    start = continued.config["start"]
    assert start["kind"] == "live" and start["checkpoint"] == version.checkpoint_dir
    assert continued.config["tokenizer_sha256"] == version.config["tokenizer_sha256"]
    assert sorted(j["process"] for j in again.host_joins) == [0, 1]
    metadata = json.loads((Path(continued.checkpoint_dir) / "metadata.json").read_text())
    assert metadata["processes"] == 2 and metadata["init_checkpoint"] == version.checkpoint_dir


def test_a_run_whose_peer_does_not_join_fails_with_a_clear_message(
    worker_env, fault_redis, tmp_path, settings
):
    settings.EMBER_TRAIN_HOSTS = 2
    project = demo_project_ensure(n_per_task=4)
    run = TrainingRun.objects.create(
        project=project, trigger="manual", preset="smoke", hosts=2, variant="flame"
    )
    env = fault_env(worker_env, fault_redis.url, EMBER_TRAIN_HOSTS_JOIN_SECONDS="5")
    only = start_worker(env, "alone", tmp_path, "train")
    try:
        publish(training_run_execute_task, (run.pk,), fault_redis.url)
        done = run_settled(run.pk, timeout=120)
    finally:
        only.stop()
    assert done.status == "failed"
    assert "trains on 2 hosts, but only 1 of them joined within 5 s" in done.error
    assert f"process 0 on {done.worker}" in done.error
    assert "EMBER_TRAIN_HOSTS=1" in done.error
    assert wait_until(lambda: (attempt_folder(done, done.host_attempt) / "abandoned").exists(), 5)


def test_a_stopped_peer_hands_the_run_back_and_two_workers_finish_it(
    worker_env, fault_redis, tmp_path
):
    """SIGTERM to the peer's worker mid-run: every process saves its state at the next step, the
    peer's worker exits within seconds, the run is handed back (not cancelled, not failed), and
    the run then finishes on two workers from the saved step."""
    import signal
    import subprocess
    import time

    project = demo_project_ensure(n_per_task=20)
    steps = 400
    run = TrainingRun.objects.create(
        project=project,
        trigger="manual",
        preset="smoke",
        hosts=2,
        variant="flame",
        config_overrides={"steps": steps, "checkpoint_every": 0, "log_every": 2},
    )
    env = fault_env(
        worker_env,
        fault_redis.url,
        EMBER_RUN_LEASE_SECONDS="600",
        EMBER_RECOVER_SECONDS="3600",
    )
    leader = start_worker(env, "leader", tmp_path, "train")
    publish(training_run_execute_task, (run.pk,), fault_redis.url)
    wait_until(
        lambda: TrainingRun.objects.get(pk=run.pk).host_attempt, timeout=120, what="an attempt"
    )
    peer = start_worker(env, "peer", tmp_path, "train")
    try:
        wait_until(
            lambda: TrainingRun.objects.get(pk=run.pk).step >= 20,
            timeout=240,
            interval=0.1,
            what="2-host training to pass step 20",
        )
        before = TrainingRun.objects.get(pk=run.pk)
        sent = time.monotonic()
        peer.process.send_signal(signal.SIGTERM)
        try:
            peer.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"peer still running 30 s after SIGTERM\n{peer.log()[-3000:]}")
        print(f"peer worker exited {time.monotonic() - sent:.1f} s after SIGTERM")
        wait_until(lambda: "handed the run back" in leader.log(), timeout=60, what="hand-back")
        handed = TrainingRun.objects.get(pk=run.pk)
        assert handed.status in ("queued", "running") and not handed.error  # not failed
        saved = _latest_state_step(Path(handed.state_dir))
        assert before.step <= saved < steps, (before.step, saved)
        assert "handed the run back" in leader.log()

        third = start_worker(env, "third", tmp_path, "train")
        try:
            done = run_settled(run.pk, timeout=400)
        finally:
            third.stop()
    finally:
        peer.stop()
        leader.stop()
    assert done.status == "succeeded", done.error + leader.log()[-3000:]
    assert done.resumed_from_step == saved and done.attempts == 1
    assert [j["process"] for j in sorted(done.host_joins, key=lambda j: j["process"])] == [0, 1]
    assert AutoraterVersion.objects.filter(project=project).count() == 1
