"""Multi-host training runs: one `training.host_process` per host forming one jax.distributed job.

A run requested while EMBER_TRAIN_HOSTS is N > 1 trains its FLAMe model on N hosts:
- the worker holding the run (the leader: process 0) starts an attempt: a coordinator address
  on its own host (EMBER_TRAIN_COORDINATOR_HOST and a free port), the attempt's spec in the
  artifact root (every host must see it: EMBER_ARTIFACT_ROOT on shared storage), and N - 1
  `ember.train.join_run` messages on the train queue;
- each message is taken by another train worker (one per host, --concurrency 1): it records its
  join on the run and starts its process (host_join);
- the leader waits until every peer has joined (EMBER_TRAIN_HOSTS_JOIN_SECONDS), starts process
  0, relays its progress to the run, and writes the attempt's stop file when the run is
  cancelled or its worker is stopping (a peer's stopping worker writes it too): every process
  saves the training state at its next step and exits, and the run is cancelled or handed back.
A run whose peers do not all join fails with a message that says how many joined and what to
start; a peer whose process fails ends the run with that process's error. A fresh process per
host and attempt, because `jax.distributed.initialize` must run before JAX starts a backend.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from training.host_process import STOPPED, WORKER_STOP, request_stop
from webapp.retraining import worker_stop
from webapp.retraining.leases import worker_name
from webapp.retraining.models import TrainingRun

logger = logging.getLogger(__name__)

CANCEL = "cancel"
# Written by the leader when it gives an attempt up: peers end their processes at once.
ABANDONED_FILE = "abandoned"
POLL_SECONDS = 0.5
# After its process ends, a peer's exit status is written here for the leader.
EXIT_FILE = "process{index}.exit"
LOG_FILE = "process{index}.log"

NOT_JOINED = (
    "This run trains on {hosts} hosts, but only {joined} of them joined within {timeout:.0f} s "
    "({who}). Start one worker consuming the 'train' queue on each other host (--concurrency 1, "
    "the same EMBER_ARTIFACT_ROOT; docs/deployment.md), or set EMBER_TRAIN_HOSTS=1 to train on "
    "one host."
)


class HostsStopped(Exception):
    """The run's processes stopped at a step, their state saved: `reason` is WORKER_STOP (hand
    the run back to the queue) or CANCEL (or a lost lease)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"multi-host training stopped ({reason})")
        self.reason = reason

    @property
    def worker_stop(self) -> bool:
        return self.reason == WORKER_STOP


def attempt_folder(run: TrainingRun, attempt: str) -> Path:
    return settings.ARTIFACT_ROOT / "train-hosts" / f"run{run.pk}" / attempt


def _coordinator_host() -> str:
    configured = settings.EMBER_TRAIN_COORDINATOR_HOST
    if configured:
        return configured
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        try:
            sock.bind((host, 0))
        except OSError as error:
            raise RuntimeError(
                f"cannot open the run's coordinator on {host} ({error}): set "
                "EMBER_TRAIN_COORDINATOR_HOST to an address of this host the others can reach"
            ) from error
        return sock.getsockname()[1]


def _stop(folder: Path, reason: str) -> None:
    request_stop(folder / "stop", reason)


def _stop_reason(folder: Path) -> str:
    path = folder / "stop"
    return path.read_text("utf-8").strip() if path.exists() else ""


def _tail(path: Path, chars: int = 1500) -> str:
    return path.read_text("utf-8", "replace")[-chars:].strip() if path.exists() else ""


def _start_process(folder: Path, coordinator: str, hosts: int, index: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "EMBER_COORDINATOR": coordinator,
        "EMBER_NUM_PROCESSES": str(hosts),
        "EMBER_PROCESS_ID": str(index),
        "EMBER_JOIN_TIMEOUT_SECONDS": str(int(settings.EMBER_TRAIN_HOSTS_JOIN_SECONDS)),
    }
    with open(folder / LOG_FILE.format(index=index), "a", encoding="utf-8") as log:
        # Its own session: a signal to the worker's process group reaches the worker, which
        # stops the run through the stop file (every process saves its state first).
        return subprocess.Popen(
            [sys.executable, "-m", "training.host_process", str(folder / "spec.json")],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


# --- the leader (process 0, the worker holding the run's lease) ---


def hosts_train(run: TrainingRun, heartbeat, progress, spec: dict, tokenizer=None) -> None:
    """Train `spec` (tasks, snapshot, config, out_dir, state_dir, init_checkpoint) on run.hosts
    hosts; returns once out_dir holds the checkpoint. Raises HostsStopped when stopped, and
    RuntimeError with the cause when peers do not join or a process fails."""
    attempt = uuid.uuid4().hex
    folder = attempt_folder(run, attempt)
    folder.mkdir(parents=True)
    host = _coordinator_host()
    coordinator = f"{host}:{_free_port(host)}"
    spec = {**spec, "progress": str(folder / "progress.jsonl"), "stop": str(folder / "stop")}
    if tokenizer is not None:
        from judging.checkpoint import write_tokenizer

        write_tokenizer(folder / "tokenizer.json", tokenizer)
        spec["tokenizer"] = str(folder / "tokenizer.json")
    (folder / "spec.json").write_text(json.dumps(spec), "utf-8")
    me = {"process": 0, "worker": worker_name(), "joined_at": timezone.now().isoformat()}
    TrainingRun.objects.filter(pk=run.pk, lease_token=run.lease_token).update(
        host_attempt=attempt, host_coordinator=coordinator, host_joins=[me]
    )
    from webapp.retraining.tasks import host_join_task

    for index in range(1, run.hosts):
        host_join_task.apply_async((run.pk, attempt, index))
    logger.info(
        "run %s: training on %d hosts; waiting for %d peers", run.pk, run.hosts, run.hosts - 1
    )
    process = None
    try:
        if not _wait_for_peers(run, attempt, heartbeat, folder):
            raise HostsStopped(_stop_reason(folder))
        process = _start_process(folder, coordinator, run.hosts, 0)
        _follow(run, process, folder, heartbeat, progress)
    finally:
        if process is None or process.returncode not in (0, STOPPED):
            (folder / ABANDONED_FILE).touch()
        if process is not None:
            _end(process)


def _joins(run: TrainingRun, attempt: str) -> list[dict]:
    row = TrainingRun.objects.filter(pk=run.pk, host_attempt=attempt).values("host_joins").first()
    return row["host_joins"] if row else []


def _wait_for_peers(run: TrainingRun, attempt: str, heartbeat, folder: Path) -> bool:
    """True once every peer joined; False if the run was stopped meanwhile; RuntimeError at the
    join deadline."""
    timeout = settings.EMBER_TRAIN_HOSTS_JOIN_SECONDS
    deadline = time.monotonic() + timeout
    while True:
        joins = _joins(run, attempt)
        if len(joins) >= run.hosts:
            logger.info("run %s: all %d hosts joined", run.pk, run.hosts)
            return True
        if heartbeat.should_stop():
            _stop(folder, WORKER_STOP if heartbeat.worker_stopping else CANCEL)
            return False
        if time.monotonic() >= deadline:
            who = ", ".join(f"process {j['process']} on {j['worker']}" for j in joins)
            raise RuntimeError(
                NOT_JOINED.format(hosts=run.hosts, joined=len(joins), timeout=timeout, who=who)
            )
        time.sleep(POLL_SECONDS)


def _follow(run: TrainingRun, process: subprocess.Popen, folder: Path, heartbeat, progress):
    """Relay process 0's progress to the run until it ends; pass stops on; raise its outcome."""
    progress_file = folder / "progress.jsonl"
    offset = 0

    def relay() -> None:
        nonlocal offset
        if not progress_file.exists():
            return
        with open(progress_file, encoding="utf-8") as handle:
            handle.seek(offset)
            for line in handle:
                if not line.endswith("\n"):
                    break  # half written: read it next time
                offset += len(line.encode("utf-8"))
                point = json.loads(line)
                if not (heartbeat.cancelled or heartbeat.lost):
                    progress(point["step"], point["total"], point["loss"])

    while process.poll() is None:
        if heartbeat.should_stop() and not _stop_reason(folder):
            _stop(folder, WORKER_STOP if heartbeat.worker_stopping else CANCEL)
        failed = _failed_peer(run, folder)
        if failed:
            raise RuntimeError(failed)
        relay()
        time.sleep(POLL_SECONDS)
    relay()
    if process.returncode == 0:
        return
    if process.returncode == STOPPED:
        raise HostsStopped(_stop_reason(folder) or CANCEL)
    raise RuntimeError(
        _failed_peer(run, folder)
        or f"process 0 of {run.hosts} failed (exit status {process.returncode}): "
        f"{_tail(folder / LOG_FILE.format(index=0))}"
    )


def _failed_peer(run: TrainingRun, folder: Path) -> str:
    for index in range(1, run.hosts):
        path = folder / EXIT_FILE.format(index=index)
        if not path.exists():
            continue
        status = int(path.read_text("utf-8") or 1)
        if status not in (0, STOPPED):
            log = _tail(folder / LOG_FILE.format(index=index))
            return f"process {index} of {run.hosts} failed (exit status {status}): {log}"
    return ""


# --- a peer (process 1..N-1, another host's train worker) ---


def _record_join(run_id: int, attempt: str, index: int) -> TrainingRun | None:
    """Add this worker to the attempt's joins; None if the attempt is over or already joined
    (a duplicate or late message)."""
    with transaction.atomic():
        run = (
            TrainingRun.objects.select_for_update()
            .filter(pk=run_id, host_attempt=attempt, status=TrainingRun.Status.RUNNING)
            .first()
        )
        if run is None or any(j["process"] == index for j in run.host_joins):
            return None
        join = {"process": index, "worker": worker_name(), "joined_at": timezone.now().isoformat()}
        run.host_joins = [*run.host_joins, join]
        run.save(update_fields=["host_joins", "updated_at"])
        return run


def host_join(*, run_id: int, attempt: str, index: int) -> int | None:
    """Run process `index` of the run's attempt on this host until the run's processes end;
    its exit status (None if this message had nothing to join)."""
    if worker_stop.stop_requested():
        from webapp.retraining.tasks import host_join_task

        logger.info("run %s: worker stopping; join message sent back to the queue", run_id)
        host_join_task.apply_async((run_id, attempt, index))
        return None
    run = _record_join(run_id, attempt, index)
    if run is None:
        logger.info("run %s: attempt %s is over or joined; nothing to do", run_id, attempt)
        return None
    folder = attempt_folder(run, attempt)
    logger.info("run %s: joined as process %d of %d", run_id, index, run.hosts)
    process = _start_process(folder, run.host_coordinator, run.hosts, index)
    try:
        with worker_stop.training_active():
            while process.poll() is None:
                if worker_stop.stop_requested() and not _stop_reason(folder):
                    _stop(folder, WORKER_STOP)
                if (folder / ABANDONED_FILE).exists():
                    break
                time.sleep(POLL_SECONDS)
    finally:
        _end(process)
        (folder / EXIT_FILE.format(index=index)).write_text(str(process.returncode), "utf-8")
    logger.info("run %s: process %d ended (exit status %s)", run_id, index, process.returncode)
    return process.returncode
