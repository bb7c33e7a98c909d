"""Fine-tuning throughput: train tokens/s and MFU of full and LoRA fine-tuning of the SAME model,
side by side in one run, and the LoRA / full tokens/s ratio.

    python -m benchmarks.finetune [--d-model 512 --layers 8 --seq 256 --batch 8 --steps 6]
                                  [--targets q,k,v,o --rank 8 --lora-base-dtype bfloat16]
                                  [--remat] [--quick]

Both runs use the training loop's own jitted step (training/loop/step.py) on the same random
Llama-shaped model and the same batches: full fine-tuning (AdamW on every parameter) and LoRA
(rank --rank adapters on --targets, by default TrainConfig's q,k,v,o; base frozen in
--lora-base-dtype; AdamW on the adapters only). FLOPs come from the code's shapes: per token,
2 x (matmul parameters) for the forward pass plus the attention's 4 x L x heads x head_dim per
layer (the full score matrix, as the code computes it; the last block and the vocabulary
projection run at each row's verdict position only, see `step_flops`); the backward pass is
twice the forward for full fine-tuning, and for LoRA once the forward (the activations'
gradients, not the frozen weights') plus the adapters' own. The two modes' steps are timed
interleaved on the same machine. MFU divides the achieved FLOP/s by this machine's peak,
measured in the same run as the best of a few large matmuls (float32 on a CPU, bfloat16 on a
GPU/TPU). XLA's own cost analysis of each compiled step (FLOPs, bytes accessed) is printed
beside ours: on a CPU the step time follows the bytes more than the FLOPs.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from judging.model import ModelConfig
from training import parallel
from training.config import TrainConfig
from training.loop.batch import Batch, place_batch
from training.loop.step import init_train_state, make_train_step


def measured_peak_flops(n: int = 2048, repeats: int = 5) -> float:
    """The best FLOP/s of an n x n x n matmul (float32 on CPU, bfloat16 on an accelerator)."""
    dtype = jnp.float32 if jax.default_backend() == "cpu" else jnp.bfloat16
    a = jax.random.normal(jax.random.key(0), (n, n), dtype)
    b = jax.random.normal(jax.random.key(1), (n, n), dtype)
    matmul = jax.jit(lambda a, b: a @ b)
    matmul(a, b).block_until_ready()
    best = min(_timed(lambda: matmul(a, b).block_until_ready()) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


ALL_TARGETS = ("q", "k", "v", "o", "gate", "up", "down")


def step_flops(
    config: ModelConfig, batch: int, seq: int, lora_rank: int, targets: list[str]
) -> float:
    """FLOPs of one training step from the model's shapes (see the module doc). The loss needs
    the last block at each row's verdict position only (`Decoder.logits_at`), so that block
    runs its k/v projections over every token and the rest over one position per row."""
    d, e = config.d_model, config.resolved_head_dim
    h, k, f, n = config.n_heads, config.n_kv_heads, config.d_ff, config.n_layers
    tokens = batch * seq
    kv = 2 * 2 * d * k * e
    rest = 2 * (2 * d * h * e + 3 * d * f)
    attention = 2 * 2 * h * e * seq  # scores and weighted values, per query token
    forward = (n - 1) * (kv + rest + attention) * tokens
    forward += kv * tokens + (rest + attention) * batch
    forward += 2 * d * config.vocab_size * batch  # the verdict position's projection
    if not lora_rank:
        return 3 * forward
    adapted = [
        shape for name, shape in zip(ALL_TARGETS, _shapes(config), strict=True) if name in targets
    ]
    adapters = n * sum(2 * lora_rank * (a + b) for a, b in adapted) * tokens
    return 2 * forward + 3 * adapters


def _shapes(config: ModelConfig) -> list[tuple[int, int]]:
    d, e, f = config.d_model, config.resolved_head_dim, config.d_ff
    qkvo = [(d, config.n_heads * e), (d, config.n_kv_heads * e), (d, config.n_kv_heads * e)]
    return [*qkvo, (config.n_heads * e, d), (d, f), (d, f), (f, d)]


def build(mode: str, model_config: ModelConfig, args, batches: list[Batch]):
    """The jitted step of `mode` ("full" or "lora"), its state (compiled and warmed up) and its
    FLOPs per step."""
    rank = args.rank if mode == "lora" else 0
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        learning_rate=1e-4,
        warmup_steps=0,
        lora_rank=rank,
        lora_targets=args.targets.split(","),
        lora_base_dtype=args.lora_base_dtype,
        remat=args.remat,
    )
    mesh = parallel.make_mesh()
    graphdef, state = init_train_state(model_config, config, mesh)
    step, state = make_train_step(graphdef, state, config, mesh)
    placed = [place_batch(mesh, 1, b) for b in batches]
    cost = step.lower(state, placed[0], None).compile().cost_analysis()
    cost = (cost[0] if isinstance(cost, list) else cost) or {}
    state, loss = step(state, placed[0], None)  # compile
    jax.block_until_ready(loss)
    trained = sum(
        x.size
        for x in jax.tree.leaves(
            nnx.state(nnx.merge(graphdef, state)[0], nnx.LoRAParam if rank else nnx.Param)
        )
    )
    xla = {"xla_gflop": cost.get("flops"), "xla_gb_accessed": cost.get("bytes accessed")}
    xla = {k: None if v is None else round(v / 1e9, 3) for k, v in xla.items()}
    return {"step": step, "state": state, "batches": placed, "trained": int(trained), "xla": xla}


def measure(runs: dict[str, dict], args, model_config: ModelConfig) -> dict[str, dict]:
    """Time the modes' steps interleaved (full, lora, full, ...), so a busy shared machine slows
    both alike; report each mode's median step."""
    times: dict[str, list[float]] = {mode: [] for mode in runs}
    for i in range(args.steps):
        for mode, run in runs.items():
            start = time.perf_counter()
            run["state"], loss = run["step"](run["state"], run["batches"][i % 2], None)
            jax.block_until_ready(loss)
            times[mode].append(time.perf_counter() - start)
    results = {}
    for mode, run in runs.items():
        seconds = float(np.median(times[mode]))
        rank = args.rank if mode == "lora" else 0
        flops = step_flops(model_config, args.batch, args.seq, rank, args.targets.split(","))
        results[mode] = {
            "step_seconds": round(seconds, 4),
            "tokens_per_second": round(args.batch * args.seq / seconds, 1),
            "step_gflop": round(flops / 1e9, 3),
            "achieved_gflop_per_second": round(flops / seconds / 1e9, 2),
            "trained_params": run["trained"],
            **run["xla"],
        }
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.finetune")
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--d-ff", type=int, default=1408)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--targets", default=",".join(TrainConfig().lora_targets))
    parser.add_argument("--lora-base-dtype", default="bfloat16")
    parser.add_argument("--remat", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a tiny model, for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.d_model, args.layers, args.heads, args.kv_heads = 64, 2, 4, 2
        args.d_ff, args.vocab, args.seq, args.batch, args.steps = 128, 512, 32, 4, 2
    model_config = ModelConfig(
        vocab_size=args.vocab,
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        n_kv_heads=args.kv_heads,
        d_ff=args.d_ff,
        max_len=args.seq,
    )
    rng = np.random.default_rng(0)
    batches = [
        Batch(
            tokens=rng.integers(0, args.vocab, (args.batch, args.seq), dtype=np.int32),
            mask=np.ones((args.batch, args.seq), bool),
            last=np.full((args.batch,), args.seq - 1, np.int32),
            targets=rng.integers(0, args.vocab, (args.batch,), dtype=np.int32),
        )
        for _ in range(2)
    ]
    runs = {mode: build(mode, model_config, args, batches) for mode in ("full", "lora")}
    peak = measured_peak_flops()
    results = measure(runs, args, model_config)
    for result in results.values():
        result["mfu"] = round(result["achieved_gflop_per_second"] * 1e9 / peak, 4)
    n_params = (
        sum(a * b for a, b in _shapes(model_config)) * model_config.n_layers
        + model_config.vocab_size * model_config.d_model
    )
    report = {
        "benchmark": "finetune",
        "device": f"{jax.devices()[0].device_kind} x {jax.device_count()}",
        "model": {**model_config.to_dict(), "params": n_params},
        "batch": args.batch,
        "seq": args.seq,
        "lora": {
            "rank": args.rank,
            "targets": args.targets.split(","),
            "base_dtype": args.lora_base_dtype,
        },
        "remat": args.remat,
        "measured_peak_gflop_per_second": round(peak / 1e9, 2),
        "full": results["full"],
        "lora_run": results["lora"],
        "lora_over_full_tokens_per_second": round(
            results["lora"]["tokens_per_second"] / results["full"]["tokens_per_second"], 3
        ),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
