"""One process of a multi-host FLAMe training run started by the app (no Django here).

    python -m training.host_process SPEC.json

Each host's worker starts one of these with EMBER_COORDINATOR (host:port of process 0),
EMBER_NUM_PROCESSES, EMBER_PROCESS_ID and EMBER_JOIN_TIMEOUT_SECONDS set; together they form
one `jax.distributed` job that runs `training.loop.train` data parallel (training/parallel.py).
A fresh process per run, because `jax.distributed.initialize` must come before JAX starts its
backends, and a worker that judged or trained before has already started them.

SPEC (written by webapp/retraining/hosts.py in the run's state folder, which every host sees):
  tasks: {name: task definition}; snapshot: the dataset snapshot (JSONL); config: TrainConfig;
  out_dir, state_dir, init_checkpoint (or null), tokenizer (a tokenizer file, or null);
  progress: file process 0 appends {"step", "total", "loss"} lines to;
  stop: file whose appearance stops the run at its next step (process 0 reads it and every
  process follows: training.loop broadcasts its decision), with the reason as its text.

Exit status: 0 trained (the checkpoint is in out_dir), STOPPED when stopped (state saved in
state_dir), 1 on any error (its traceback on stderr). SIGTERM or SIGINT, or the death of the
worker that started it, writes the stop file: the run saves its state and every host exits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

STOPPED = 3
# The reason a stop file gives when a host's worker (or this process) was asked to stop: the
# run is handed back to the queue rather than cancelled.
WORKER_STOP = "worker-stop"


def request_stop(stop_file: Path, reason: str) -> None:
    """Ask every process of the run to stop at its next step (first reason wins)."""
    stop_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(stop_file, "x", encoding="utf-8") as handle:
            handle.write(reason)
    except FileExistsError:
        pass


class _Stop:
    """should_stop for train(): the stop file, or this process's parent (the worker) gone."""

    def __init__(self, stop_file: Path) -> None:
        self.stop_file = stop_file
        self.parent = os.getppid()

    def __call__(self) -> bool:
        if os.getppid() != self.parent:
            request_stop(self.stop_file, WORKER_STOP)
        return self.stop_file.exists()

    def on_signal(self, signum, frame) -> None:
        request_stop(self.stop_file, WORKER_STOP)


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text("utf-8"))
    stop = _Stop(Path(spec["stop"]))
    signal.signal(signal.SIGTERM, stop.on_signal)
    signal.signal(signal.SIGINT, stop.on_signal)
    # JAX is imported here, not at the top: the app's side (webapp/retraining/hosts.py) uses this
    # module's stop file and exit codes without loading JAX.
    from training import parallel

    parallel.initialize_distributed()  # before anything starts a JAX backend

    import jax

    from judging.checkpoint import read_tokenizer
    from judging.task_format import Task
    from training.config import TrainConfig
    from training.loop import TrainingCancelled, train
    from training.loop.data import load_snapshot

    tasks = {name: Task.from_dict(task) for name, task in spec["tasks"].items()}
    _, examples = load_snapshot(spec["snapshot"])
    progress_file = Path(spec["progress"])

    def on_progress(step: int, total: int, loss: float) -> None:
        if jax.process_index() == 0:
            with open(progress_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, "total": total, "loss": loss}) + "\n")

    try:
        train(
            tasks,
            examples,
            TrainConfig.from_dict(spec["config"]),
            spec["out_dir"],
            on_progress=on_progress,
            state_dir=spec["state_dir"],
            should_stop=stop,
            init_checkpoint=spec.get("init_checkpoint"),
            tokenizer=read_tokenizer(spec["tokenizer"]) if spec.get("tokenizer") else None,
        )
    except TrainingCancelled as cancelled:
        print(f"process {jax.process_index()}: {cancelled}", file=sys.stderr)
        return STOPPED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
