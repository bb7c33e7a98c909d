"""Scale-out: the same training as one process and as two CPU processes (jax.distributed over a
localhost coordinator, data parallel: each process feeds its half of every global batch) gives
the same loss curve and parameters; FSDP over two devices matches one device too."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from judging.checkpoint import load_checkpoint
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from training.config import TrainConfig
from training.loop import train

WORKER = Path(__file__).with_name("dist_worker.py")
TASKS = {t.name: t for t in DEMO_TASKS}
CONFIG = TrainConfig(
    steps=6,
    batch_size=8,
    learning_rate=1e-3,
    warmup_steps=1,
    log_every=1,
    max_len=128,
    model_overrides={"n_layers": 1, "d_model": 64, "n_heads": 4, "n_kv_heads": 2, "d_ff": 256},
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
    return {**env, **extra}


def _run_workers(tmp_path: Path, config: TrainConfig, envs: list[dict[str, str]]) -> dict:
    spec = {"config": config.to_dict(), "out": str(tmp_path / "model"), "n_examples": 40}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(spec)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for env in envs
    ]
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=240)
        finally:
            proc.kill()
        if proc.returncode:
            errors.append(err.decode()[-3000:])
    assert not errors, errors
    return json.loads((tmp_path / "model.json").read_text())


def _params(directory: Path) -> list[np.ndarray]:
    model = load_checkpoint(directory).model
    return [np.asarray(x) for x in jax.tree.leaves(nnx.to_pure_dict(nnx.state(model)))]


def _assert_same_run(single, single_dir: Path, other: dict, other_dir: Path) -> None:
    assert [s for s, _ in other["loss_history"]] == [s for s, _ in single.loss_history]
    np.testing.assert_allclose(
        [v for _, v in other["loss_history"]], [v for _, v in single.loss_history], rtol=1e-4
    )
    for a, b in zip(_params(single_dir), _params(other_dir), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_two_processes_match_one(tmp_path):
    examples = generate_demo_examples(40, seed=1)
    single = train(TASKS, examples, CONFIG, tmp_path / "single")
    assert single.loss_history[-1][1] < single.loss_history[0][1]  # it does learn

    coordinator = f"127.0.0.1:{_free_port()}"
    envs = [
        _env(EMBER_COORDINATOR=coordinator, EMBER_NUM_PROCESSES="2", EMBER_PROCESS_ID=str(i))
        for i in range(2)
    ]
    two = _run_workers(tmp_path / "two", CONFIG, envs)
    assert two["processes"] == 2 and two["devices"] == 2
    assert two["metadata"]["sharded_arrays"] == 0  # data parallel: params replicated
    _assert_same_run(single, tmp_path / "single", two, tmp_path / "two" / "model")


def test_fsdp_over_two_devices_matches_one(tmp_path):
    config = CONFIG.replace(fsdp=True)
    examples = generate_demo_examples(40, seed=1)
    single = train(TASKS, examples, config, tmp_path / "single")
    env = _env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
    fsdp = _run_workers(tmp_path / "fsdp", config, [env])
    assert fsdp["processes"] == 1 and fsdp["devices"] == 2
    # Embedding and feed-forward kernels and their two Adam moments are sharded (arrays under
    # parallel.FSDP_MIN_SIZE, like norm scales, stay replicated).
    assert fsdp["metadata"]["sharded_arrays"] >= 4 * 3
    _assert_same_run(single, tmp_path / "single", fsdp, tmp_path / "fsdp" / "model")
