"""A quiet console: under the app's logging config, with the console a Celery worker sets up, a
checkpoint save prints no INFO line from orbax/absl, while the app's own progress line shows;
at EMBER_LOG_LEVEL=DEBUG the library lines come back (so the config is what hides them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SAVE_UNDER_WORKER_CONSOLE = """
import logging, sys
import django
django.setup()
from webapp.config.celery import app
app.log.setup(loglevel=sys.argv[2])  # the console handler a worker installs on the root logger
import numpy as np
import orbax.checkpoint as ocp

directory = sys.argv[1]
# what judging.checkpoint and training.loop.state do: a params tree, and a managed train state
checkpointer = ocp.StandardCheckpointer()
checkpointer.save(f"{directory}/params", {"w": np.ones((4, 4), np.float32)})
checkpointer.wait_until_finished()
manager = ocp.CheckpointManager(
    f"{directory}/state", options=ocp.CheckpointManagerOptions(max_to_keep=1)
)
manager.save(1, args=ocp.args.Composite(state=ocp.args.StandardSave({"w": np.zeros(3)})))
manager.wait_until_finished()
manager.close()
logging.getLogger("webapp.retraining.services").info("run 7: step 10/20, loss 0.5")
logging.getLogger("celery.app.trace").info(
    "Task %(name)s[%(id)s] received",
    {"name": "ember.default.recover_jobs", "id": "x"},
    extra={"data": {"name": "ember.default.recover_jobs", "id": "x"}},
)
logging.getLogger("celery.app.trace").info(
    "Task %(name)s[%(id)s] received",
    {"name": "ember.train.execute_run", "id": "y"},
    extra={"data": {"name": "ember.train.execute_run", "id": "y"}},
)
"""


def _console(tmp_path: Path, level: str) -> list[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.test",
        "EMBER_LOG_LEVEL": level,
        "JAX_PLATFORMS": "cpu",
    }
    result = subprocess.run(
        [sys.executable, "-c", SAVE_UNDER_WORKER_CONSOLE, str(tmp_path / level), level],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / level / "state" / "1").is_dir()  # the checkpoints were written
    return (result.stdout + result.stderr).splitlines()


def test_checkpoint_saves_print_no_info_lines_on_the_console(tmp_path):
    lines = _console(tmp_path, "INFO")
    info = [line for line in lines if "INFO" in line]
    # the app's progress and a training task show; orbax/absl and beat's periodic check do not
    assert info and all(
        "run 7: step 10/20" in line or "ember.train.execute_run" in line for line in info
    ), "\n".join(info)
    assert any("run 7: step 10/20, loss 0.5" in line for line in info)
    assert any("ember.train.execute_run" in line for line in info)


def test_library_lines_come_back_at_debug_level(tmp_path):
    lines = _console(tmp_path, "DEBUG")
    assert any("ember.default.recover_jobs" in line for line in lines)
    # orbax's lines (through absl) are there when debugging
    assert sum("INFO" in line or "DEBUG" in line for line in lines) > 10
    assert any("heckpoint" in line for line in lines if "run 7" not in line)
