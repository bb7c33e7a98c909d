"""Memory per device for fine-tuning 2B, 7B and 9B bases, from the code's own shapes.

    python -m benchmarks.memory [--batch 4] [--seq 2048] [--rank 16] [--targets q k v o]

Nothing is allocated: the model and its optimizer are built as the trainer builds them
(training/loop/step.py's init_train_state: `judging.model.Decoder` from a Hugging Face
config.json through judging.hf.config_from_hf; for LoRA, training/lora.py's `apply_lora` and
`freeze_base`; `nnx.Optimizer` over `trained_params`, the trainer's own optax chain) under
`nnx.eval_shape`; the per-device shard of every array comes from the trainer's FSDP rule
(training.parallel.param_sharding over an `AbstractMesh`), and the activations from JAX's
`saved_residuals` (the data that `jax.ad_checkpoint.print_saved_residuals` prints) of the
trainer's loss (training.loop.loss.label_loss, bf16 compute, gradients for the trained params
only, as the train step takes them): what the backward pass keeps, before XLA's fusion.
`xla_check` compares that with XLA's compiled buffer assignment (this backend's
`memory_analysis()`) at 2 layers: one more row of 2,048 tokens adds 1.12 GB traced and 1.29 GB
compiled at Gemma-2-2B width on CPU (2.16 GB and 2.30 GB at Llama-2-7B width).

Activations: the residuals are traced for 2 and 4 layers at batch 1 and 2 (cheap), split into
a per-row part and a per-step part (bf16 copies of float32 weights), each before and per block,
and extrapolated to the model's depth and the stated per-device micro-batch (tested equal to a
direct trace). The [..., L, L] residuals (attention probabilities and mask) are the ones flash
attention (cuDNN, through jax.nn.dot_product_attention) does not keep; the `_flash` figures
leave them out. Remat is the trainer's `remat` option (training/lora.py's `enable_remat`,
each block recomputed in the backward pass) traced the same way: a block keeps only its bf16
input [B, L, D]; one block's activations (from the plain trace) are added, live while it is
recomputed. LoRA keeps fewer activations than full fine-tuning: a frozen weight needs
no dW, so the inputs only its dW would use are not kept.

Regimes, in the dtypes the trainer's defaults give (param_dtype, lora_base_dtype; reported
under `dtypes`):
    full   float32 master weights + float32 grads + AdamW mu, nu (float32) + bf16 weight copies
    lora   the base frozen in bf16 (no grads, no moments) + float32 adapters (rank r on the
           `targets` projections) + their grads + AdamW moments
Gradient accumulation (grad_accum_steps > 1) adds one more copy of the grads (the scan's sum).

Targets: one 80 GiB GPU (no sharding) and a TPU v5e-8 (8 chips x 16 GiB, FSDP over 8: every
array of 2^14+ elements sharded on its largest dimension 8 divides). `fits` compares with 90% of
a device's memory (XLA temporaries, fragmentation, the one-layer all-gather under FSDP). Note
JAX preallocates 75% of a GPU by default; set XLA_PYTHON_CLIENT_MEM_FRACTION=.95 for a run near
the limit.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax._src.ad_checkpoint import saved_residuals  # print_saved_residuals, as data
from jax.sharding import AbstractMesh

from judging.hf import config_from_hf
from judging.model import Decoder, ModelConfig
from training import lora, parallel
from training.config import TrainConfig
from training.loop.batch import Batch
from training.loop.loss import cast_floats, label_loss
from training.loop.optimizer import make_optimizer
from training.loop.step import trained_params

GiB = 2**30
COMPUTE = jnp.bfloat16  # the trainer's compute dtype on GPU and TPU (TrainConfig.dtype "auto")
HEADROOM = 0.9
DEVICES = {"gpu_80gb": (1, 80 * GiB), "tpu_v5e_8": (8, 16 * GiB)}
_GEMMA2 = dict(
    model_type="gemma2",
    hidden_act="gelu_pytorch_tanh",
    hidden_activation="gelu_pytorch_tanh",
    head_dim=256,
    query_pre_attn_scalar=256,
    sliding_window=4096,
    final_logit_softcapping=30.0,
    attn_logit_softcapping=50.0,
    max_position_embeddings=8192,
    rms_norm_eps=1e-6,
    rope_theta=10000.0,
    tie_word_embeddings=True,
    vocab_size=256000,
)
_LLAMA = dict(rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, vocab_size=32000)
BASES: dict[str, dict[str, Any]] = {
    "gemma-2-2b": dict(_GEMMA2, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                       num_attention_heads=8, num_key_value_heads=4),
    "llama-2-7b": dict(_LLAMA, model_type="llama", hidden_size=4096, intermediate_size=11008,
                       num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                       max_position_embeddings=4096),
    "mistral-7b": dict(_LLAMA, model_type="mistral", hidden_size=4096, intermediate_size=14336,
                       num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                       max_position_embeddings=32768, sliding_window=4096),
    "gemma-2-9b": dict(_GEMMA2, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
                       num_attention_heads=16, num_key_value_heads=8),
}  # fmt: skip


def model_config(hf: dict[str, Any]) -> tuple[ModelConfig, str | None]:
    """(config, note): the family's own, or a Llama-shaped stand-in of the same sizes where this
    checkout cannot build the family (the note says what the stand-in lacks)."""
    try:
        return config_from_hf(hf), None
    except ValueError as error:
        keep = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
                "rope_theta", "tie_word_embeddings", "max_position_embeddings")  # fmt: skip
        stand_in = {k: hf[k] for k in keep if k in hf} | {"model_type": "llama"}
        note = (
            f"Llama-shaped stand-in ({error}): without Gemma's 2 extra norms per layer "
            f"({2 * hf['hidden_size'] * hf['num_hidden_layers']:,} params) and with SiLU "
            "for GeGLU (same shapes)"
        )
        return config_from_hf(stand_in), note


def _bytes(tree: Any, n_devices: int) -> int:
    """Bytes one device holds of `tree` under the trainer's FSDP rule over n devices."""
    mesh = AbstractMesh((n_devices,), (parallel.DATA_AXIS,))
    total = 0
    for leaf in jax.tree.leaves(tree):
        shape = parallel.param_sharding(mesh, leaf.shape, fsdp=True).shard_shape(leaf.shape)
        total += int(np.prod(shape, dtype=np.int64)) * jnp.dtype(leaf.dtype).itemsize
    return total


def _model(config: ModelConfig, trainer: TrainConfig) -> Decoder:
    """The model as training/loop/step.py's init_train_state builds it (abstract use only):
    master weights in param_dtype; with lora_rank, adapters on the targets and the base frozen
    in lora_base_dtype."""
    model = Decoder(config, rngs=nnx.Rngs(0))
    if jnp.dtype(trainer.param_dtype) != jnp.float32:
        graphdef, state = nnx.split(model)
        model = nnx.merge(graphdef, cast_floats(state, jnp.dtype(trainer.param_dtype)))
    if trainer.lora_rank:
        rngs = nnx.Rngs(1)
        lora.apply_lora(model, trainer.lora_targets, trainer.lora_rank, trainer.lora_alpha, rngs)
        model = lora.freeze_base(model, jnp.dtype(trainer.lora_base_dtype))
    if trainer.remat:
        lora.enable_remat(model)
    return model


def train_state(config: ModelConfig, trainer: TrainConfig) -> dict[str, Any]:
    """Abstract (trained params, frozen params, optimizer state) of the trainer's state."""

    def build():
        model = _model(config, trainer)
        return model, nnx.Optimizer(model, make_optimizer(trainer), wrt=trained_params(trainer))

    model, optimizer = nnx.eval_shape(build)
    _, trained, frozen = nnx.split(model, trained_params(trainer), ...)
    return {
        "trained": nnx.to_pure_dict(trained),
        "frozen": nnx.to_pure_dict(frozen),
        "optimizer": nnx.to_pure_dict(nnx.state(optimizer)),
    }


def _residuals(config: ModelConfig, trainer: TrainConfig, batch: int, seq: int) -> dict:
    """Bytes the backward pass of the trainer's loss keeps (arguments, i.e. the weights and the
    batch, excluded), split into score tensors ([..., L, L]) and the rest. As in the train step,
    only the trained params are differentiated (the frozen base under stop_gradient)."""
    model = nnx.eval_shape(lambda: _model(config, trainer))
    graphdef, trained, frozen = nnx.split(model, trained_params(trainer), ...)
    rows = jax.ShapeDtypeStruct((batch,), jnp.int32)
    data = Batch(
        tokens=jax.ShapeDtypeStruct((batch, seq), jnp.int32),
        mask=jax.ShapeDtypeStruct((batch, seq), jnp.bool_),
        last=rows,
        targets=rows,
    )

    def loss(trained, frozen, data):
        frozen = cast_floats(jax.lax.stop_gradient(frozen), COMPUTE)
        return label_loss(nnx.merge(graphdef, trained, frozen), data, None, COMPUTE)

    out = {"scores": 0, "other": 0}
    for aval, source in saved_residuals(loss, trained, frozen, data):
        frozen_weight = source.startswith("output of stop_gradient") and "loss)" in source
        if source.startswith("from the argument") or frozen_weight:
            continue  # the weights themselves (the frozen ones through stop_gradient): no copy
        size = int(np.prod(aval.shape, dtype=np.int64)) * aval.dtype.itemsize
        is_score = len(aval.shape) >= 2 and aval.shape[-1] == aval.shape[-2] == seq
        out["scores" if is_score else "other"] += size
    return out


def saved(hf: dict[str, Any], batch: int, seq: int, trainer: TrainConfig) -> dict[str, float]:
    """What the backward pass keeps for the config.json `hf` at its depth and `batch` rows, by
    kind ("scores", "other"), from traces of the same config at 2 and 4 layers and 1 and 2 rows:
    each kind's bytes are step + row * b + layers * (step_block + row_block * b). Also each
    kind's per-row bytes of one block ("<kind>_block") and the per-step part ("step")."""
    n = model_config(hf)[0].n_layers
    r = {
        (k, b): _residuals(model_config({**hf, "num_hidden_layers": k})[0], trainer, b, seq)
        for k in (2, 4)
        for b in (1, 2)
    }
    out = {"step": 0.0}
    for kind in ("scores", "other"):
        row = {k: r[k, 2][kind] - r[k, 1][kind] for k in (2, 4)}  # one more row, at 2 / 4 layers
        step = {k: r[k, 1][kind] - row[k] for k in (2, 4)}
        row_block, step_block = (row[4] - row[2]) / 2, (step[4] - step[2]) / 2
        out[kind] = batch * (row[2] + (n - 2) * row_block)
        out[kind + "_block"] = row_block
        out["step"] += step[2] + (n - 2) * step_block
    return out


def activations(
    hf: dict[str, Any], batch: int, seq: int, trainer: TrainConfig | None = None
) -> dict[str, int]:
    """Activations per device: kept for the backward pass, without and with remat (the
    trainer's `remat` option, traced: each block keeps its input; plus one block's activations,
    live while it is recomputed), with and without the [L, L] tensors flash attention avoids.
    `per_step_copies`: the part that does not grow with the batch (bf16 weight copies)."""
    trainer = trainer or TrainConfig()
    plain = saved(hf, batch, seq, trainer.replace(remat=False))
    remat = saved(hf, batch, seq, trainer.replace(remat=True))
    live_scores, live_other = batch * plain["scores_block"], batch * plain["other_block"]
    return {
        "activations": int(plain["scores"] + plain["other"]),
        "activations_flash": int(plain["other"]),
        "activations_remat": int(remat["scores"] + remat["other"] + live_scores + live_other),
        "activations_remat_flash": int(remat["other"] + live_other),
        "per_step_copies": int(plain["step"]),
    }


def _count(tree: Any) -> int:
    return sum(int(np.prod(x.shape, dtype=np.int64)) for x in jax.tree.leaves(tree))


def _dtype(tree: Any) -> str:
    return ",".join(sorted({jnp.dtype(x.dtype).name for x in jax.tree.leaves(tree)}))


def base_report(name: str, batch: int, seq: int, rank: int, targets: list[str]) -> dict[str, Any]:
    """One base: parameter counts, dtypes and, per target device and regime, the bytes of each
    part of the trainer's state, the activations, the totals and whether they fit."""
    config, note = model_config(BASES[name])
    trainers = {"full": TrainConfig(), "lora": TrainConfig(lora_rank=rank, lora_targets=targets)}
    states = {regime: train_state(config, t) for regime, t in trainers.items()}
    acts = {regime: activations(BASES[name], batch, seq, t) for regime, t in trainers.items()}
    full, lora_state = states["full"], states["lora"]
    out: dict[str, Any] = {
        "config": {k: v for k, v in config.to_dict().items() if isinstance(v, int | float)},
        "params": _count(full["trained"]),
        "adapter_params": _count(lora_state["trained"]),
        "dtypes": {
            "full_params_grads_adamw": _dtype(full["trained"]),
            "lora_base": _dtype(lora_state["frozen"]),
            "adapters_grads_adamw": _dtype(lora_state["trained"]),
            "compute": jnp.dtype(COMPUTE).name,
        },
        "note": note,
        "devices": {},
    }
    for device, (n, capacity) in DEVICES.items():
        per_device: dict[str, Any] = {"chips": n, "capacity_bytes": capacity}
        for regime, state in states.items():
            act = acts[regime]
            parts = {
                "trained_params": _bytes(state["trained"], n),
                "grads": _bytes(state["trained"], n),
                "optimizer": _bytes(state["optimizer"], n),
                "frozen_params": _bytes(state["frozen"], n),
                # compute-dtype copies of float32 weights the backward pass keeps (sharded)
                "compute_weight_copies": act["per_step_copies"] // n,
            }
            fixed = sum(parts.values())
            totals = {
                key: fixed + act[f"activations{suffix}"]
                for key, suffix in (
                    ("no_remat", ""),
                    ("no_remat_flash", "_flash"),
                    ("remat", "_remat"),
                    ("remat_flash", "_remat_flash"),
                )
            }
            per_device[regime] = {
                **parts,
                "state_total": fixed,
                **{k: v for k, v in act.items() if k.startswith("activations")},
                "total": totals,
                "fits": {k: v <= HEADROOM * capacity for k, v in totals.items()},
            }
        out["devices"][device] = per_device
    return out


def xla_check(name: str, seq: int) -> dict[str, Any]:
    """The traced per-row residuals against XLA's own buffer assignment (this backend's
    compiled gradient, `memory_analysis().temp_size_in_bytes`), at 2 layers of `name`'s width:
    bytes added by one more row of `seq` tokens."""
    config = model_config({**BASES[name], "num_hidden_layers": 2})[0]
    graphdef, params = nnx.split(nnx.eval_shape(lambda: Decoder(config, rngs=nnx.Rngs(0))))
    temp, traced = {}, {}
    for b in (1, 2):
        rows = jax.ShapeDtypeStruct((b,), jnp.int32)
        tokens = jax.ShapeDtypeStruct((b, seq), jnp.int32)
        data = Batch(tokens=tokens, mask=tokens.update(dtype=jnp.bool_), last=rows, targets=rows)

        def loss(params, data):
            return label_loss(nnx.merge(graphdef, params), data, None, COMPUTE)

        compiled = jax.jit(jax.grad(loss)).lower(params, data).compile()
        temp[b] = compiled.memory_analysis().temp_size_in_bytes
        traced[b] = sum(_residuals(config, TrainConfig(), b, seq).values())
    return {
        "model": f"{name} width, 2 layers",
        "backend": jax.default_backend(),
        "traced_per_row_bytes": traced[2] - traced[1],
        "xla_temp_per_row_bytes": temp[2] - temp[1],
    }


def _gib(report: dict) -> dict:
    """The headline table: GiB per device, remat with flash attention (and without remat)."""
    rows = {}
    for name, base in report["bases"].items():
        for device, d in base["devices"].items():
            for regime in ("full", "lora"):
                r = d[regime]
                rows[f"{name} {regime} {device}"] = {
                    "state_gib": round(r["state_total"] / GiB, 1),
                    "total_remat_flash_gib": round(r["total"]["remat_flash"] / GiB, 1),
                    "total_no_remat_flash_gib": round(r["total"]["no_remat_flash"] / GiB, 1),
                    "total_no_remat_gib": round(r["total"]["no_remat"] / GiB, 1),
                    "fits_remat_flash": r["fits"]["remat_flash"],
                    "fits_no_remat_flash": r["fits"]["no_remat_flash"],
                }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--bases", nargs="+", choices=list(BASES), default=list(BASES))
    parser.add_argument("--batch", type=int, default=4, help="micro-batch rows per device")
    parser.add_argument("--seq", type=int, default=2048, help="tokens per row")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--targets", nargs="+", default=["q", "k", "v", "o"])
    parser.add_argument("--no-xla-check", action="store_true", help="skip the compiled check")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "batch_per_device": args.batch,
        "seq": args.seq,
        "lora_rank": args.rank,
        "lora_targets": args.targets,
        "headroom": HEADROOM,
        "lora_activations": "full fine-tuning's (an upper bound: frozen weights need no dW)",
        "bases": {
            name: base_report(name, args.batch, args.seq, args.rank, args.targets)
            for name in args.bases
        },
    }
    report["table_gib"] = _gib(report)
    if not args.no_xla_check:
        report["xla_check"] = xla_check(args.bases[0], args.seq)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
