"""Checkpoints and resume: a run killed mid-way (SIGKILL) or cancelled resumes from its state
directory and ends with exactly the parameters of an uninterrupted run with the same seed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from judging.checkpoint import load_checkpoint
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from training.config import TrainConfig
from training.loop import TrainingCancelled, train
from training.loop.state import STATE_STEPS_DIR

WORKER = Path(__file__).parents[1] / "dist_worker.py"
TASKS = {t.name: t for t in DEMO_TASKS}
TINY = {"n_layers": 1, "d_model": 32, "d_ff": 64}


def _config(**changes) -> TrainConfig:
    # Dropout on, so the per-step dropout keys must line up after a resume too.
    base = dict(
        steps=40,
        batch_size=8,
        learning_rate=1e-3,
        warmup_steps=2,
        log_every=1,
        max_len=128,
        dropout=0.1,
        checkpoint_every=4,
        model_overrides=TINY,
    )
    return TrainConfig(**{**base, **changes})


@pytest.fixture(autouse=True, scope="module")
def compilation_cache(tmp_path_factory):
    """Share compiled steps between this process and the worker (same HLO): faster on 2 cores."""
    directory = str(tmp_path_factory.mktemp("jax-cache"))
    old = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", directory)
    yield directory
    jax.config.update("jax_compilation_cache_dir", old)


def _params(directory: Path) -> list[np.ndarray]:
    model = load_checkpoint(directory).model
    return [np.asarray(x) for x in jax.tree.leaves(nnx.to_pure_dict(nnx.state(model)))]


def _assert_same_params(a: Path, b: Path) -> None:
    pa, pb = _params(a), _params(b)
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def _committed_steps(state_dir: Path) -> list[int]:
    steps = state_dir / STATE_STEPS_DIR
    if not steps.exists():
        return []
    return sorted(int(p.name) for p in steps.iterdir() if p.name.isdigit())


def test_killed_run_resumes_to_the_same_parameters(tmp_path, compilation_cache):
    config = _config()
    examples = generate_demo_examples(40, seed=1)
    reference = train(TASKS, examples, config, tmp_path / "uninterrupted")

    state_dir = tmp_path / "state"
    spec = {
        "config": config.to_dict(),
        "out": str(tmp_path / "killed"),
        "state_dir": str(state_dir),
        "n_examples": 40,
        "sleep": 0.15,  # ~6 s for 40 steps: time to kill it after a checkpoint
    }
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec)],
        env={**os.environ, "JAX_COMPILATION_CACHE_DIR": compilation_cache},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(step >= 8 for step in _committed_steps(state_dir)):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed_at = max(_committed_steps(state_dir))
    assert 8 <= killed_at < config.steps
    assert not (tmp_path / "killed").exists()

    resumed = train(TASKS, examples, config, tmp_path / "resumed", state_dir=state_dir)
    assert resumed.resumed_from_step >= killed_at
    assert resumed.steps == config.steps
    # The loss history covers the whole run and matches the uninterrupted one.
    assert [s for s, _ in resumed.loss_history] == list(range(1, config.steps + 1))
    np.testing.assert_allclose(
        [v for _, v in resumed.loss_history], [v for _, v in reference.loss_history], rtol=1e-5
    )
    _assert_same_params(tmp_path / "uninterrupted", tmp_path / "resumed")
    # Only the newest keep_checkpoints states are kept.
    assert len(_committed_steps(state_dir)) <= config.keep_checkpoints


def test_should_stop_cancels_saves_and_resumes(tmp_path):
    config = _config()
    examples = generate_demo_examples(40, seed=1)
    train(TASKS, examples, config, tmp_path / "uninterrupted")

    polls = []

    def should_stop() -> bool:
        polls.append(1)
        return len(polls) == 6

    state_dir = tmp_path / "state"
    with pytest.raises(TrainingCancelled) as cancelled:
        train(
            TASKS, examples, config, tmp_path / "out", state_dir=state_dir, should_stop=should_stop
        )
    assert cancelled.value.step == 6
    assert _committed_steps(state_dir) == [4, 6]
    assert not (tmp_path / "out").exists()

    resumed = train(TASKS, examples, config, tmp_path / "out", state_dir=state_dir)
    assert resumed.resumed_from_step == 6
    _assert_same_params(tmp_path / "uninterrupted", tmp_path / "out")

    # Without a state_dir, cancelling just stops.
    with pytest.raises(TrainingCancelled, match="after step 1"):
        train(TASKS, examples, config, tmp_path / "other", should_stop=lambda: True)

    # A state_dir of another run is refused rather than silently mixed in.
    with pytest.raises(ValueError, match="different run"):
        train(TASKS, examples, config.replace(seed=3), tmp_path / "x", state_dir=state_dir)
    with pytest.raises(ValueError, match="different run"):
        train(TASKS, examples[:-1], config, tmp_path / "x", state_dir=state_dir)
