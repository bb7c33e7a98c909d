"""A training process for the multi-process and kill/resume tests (a script, not a test module).

    python tests/training/dist_worker.py SPEC_JSON

SPEC: {"config": TrainConfig dict, "out": path, "state_dir": path or null, "n_examples": int,
"sleep": seconds to sleep after each logged step (so a test can kill the run mid-way)}. Trains
on demo data and writes {"loss_history", "devices", "processes", "resumed_from_step"} to
out + ".json" (process 0). Set EMBER_COORDINATOR / EMBER_NUM_PROCESSES / EMBER_PROCESS_ID for a
multi-process run.
"""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from training import parallel  # noqa: E402

parallel.initialize_distributed()  # before anything else touches JAX

import jax  # noqa: E402

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.loop import train  # noqa: E402


def main() -> None:
    spec = json.loads(sys.argv[1])
    config = TrainConfig.from_dict(spec["config"])
    tasks = {t.name: t for t in DEMO_TASKS}
    examples = generate_demo_examples(spec.get("n_examples", 40), seed=1)
    sleep = spec.get("sleep", 0.0)
    result = train(
        tasks,
        examples,
        config,
        spec["out"],
        on_progress=lambda *_: time.sleep(sleep),
        state_dir=spec.get("state_dir"),
    )
    if jax.process_index() == 0:
        summary = {
            "loss_history": result.loss_history,
            "devices": jax.device_count(),
            "processes": jax.process_count(),
            "resumed_from_step": result.resumed_from_step,
            "metadata": json.loads((Path(spec["out"]) / "metadata.json").read_text()),
        }
        Path(spec["out"] + ".json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
