"""TrainConfig: everything a training run needs besides its data; the named presets; the one
parser of `--set FIELD=VALUE` overrides that every command uses.

Presets (`PRESETS`) are TrainConfig values; a recipe profile's training config is one of them
plus typed overrides (training/recipes/profiles.py), so a training configuration has one way to
be named. FLAMe defaults (the "flame" preset): AdamW, learning rate 1e-4 with warm-up and decay,
dropout 0.05, examples-proportional mixture with a 2^16 per-task cap, swap augmentation p=0.5.
The "demo" and "smoke" presets are tuned for the tiny CPU model and keep their historical
values.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from collections.abc import Iterable
from typing import Any

LR_SCHEDULES = ("cosine", "linear", "constant")
DTYPES = ("auto", "float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model_size: str = "tiny"
    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    dropout: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    swap_probability: float = 0.5
    # Put both orders of each sampled pairwise example in the same batch (a contrastive pair:
    # same content, opposite label), instead of one order drawn with swap_probability.
    # batch_size still counts rows, so a batch then holds batch_size // 2 pairwise examples.
    pair_both_orders: bool = False
    # Auxiliary next-token loss on the prompts of lm_loss_rows rows of each (micro-)batch,
    # weighted by lm_loss_weight (0: the verdict token only, FLAMe's loss).
    lm_loss_weight: float = 0.0
    lm_loss_rows: int = 8
    # Train on the whole EVALUATION block: the output fields after the verdict an example holds
    # (Example.outputs, e.g. an explanation) are trained too (next-token loss, then EOS), the
    # verdict token's cross-entropy weighted by verdict_weight. The checkpoint then explains.
    evaluation_block: bool = False
    verdict_weight: float = 1.0
    max_len: int = 256
    per_task_cap: int = 2**16
    vocab_size: int = 1024
    log_every: int = 50
    # Explicit mixture weights per task name (None: examples-proportional with the cap).
    mixture_weights: dict[str, float] | None = None
    # Overrides of the named model size's fields (e.g. {"n_layers": 4}).
    model_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Learning-rate schedule: linear warm-up over warmup_steps, then "cosine" or "linear" decay
    # to learning_rate * end_lr_ratio at the last step, or "constant".
    lr_schedule: str = "cosine"
    end_lr_ratio: float = 0.1
    # Micro-batches per optimizer step: batch_size rows are split into grad_accum_steps equal
    # micro-batches whose gradients are averaged (same update as one big batch, less memory).
    grad_accum_steps: int = 1
    # Compute dtype: "auto" = bfloat16 on GPU/TPU, float32 on CPU. Master weights and optimizer
    # moments stay in param_dtype.
    dtype: str = "auto"
    param_dtype: str = "float32"
    # Shard parameters and optimizer moments over the devices (FSDP) instead of replicating them.
    fsdp: bool = False
    # Reference drop (JudgeLM): with this probability an example with a reference is shown
    # without it, so the judge works with and without references.
    reference_drop: float = 0.0
    # Save a resumable state checkpoint every this many steps when train() gets a state_dir
    # (0: only when cancelled); keep the newest keep_checkpoints of them.
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    # Parameter-efficient fine-tuning (training/lora.py): lora_rank > 0 puts flax.nnx LoRA
    # adapters of that rank on the lora_targets projections (q, k, v, o, gate, up, down) of
    # every block, trains them alone (scale lora_alpha / lora_rank) and keeps the base frozen
    # in lora_base_dtype; 0 is full fine-tuning. Needs a starting checkpoint (--init).
    lora_rank: int = 0
    lora_alpha: float = 16.0
    lora_targets: list[str] = dataclasses.field(default_factory=lambda: ["q", "k", "v", "o"])
    lora_base_dtype: str = "bfloat16"
    # Recompute each block's activations in the backward pass (nnx.remat): less memory.
    remat: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if not 0.0 <= self.swap_probability <= 1.0:
            raise ValueError("swap_probability must be in [0, 1]")
        if not 0.0 <= self.reference_drop <= 1.0:
            raise ValueError("reference_drop must be in [0, 1]")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}")
        if self.dtype not in DTYPES or self.param_dtype not in DTYPES[1:]:
            raise ValueError(f"dtype must be one of {DTYPES}, param_dtype float32 or bfloat16")
        if self.grad_accum_steps < 1 or self.batch_size % self.grad_accum_steps:
            raise ValueError("grad_accum_steps must be >= 1 and divide batch_size")
        if self.verdict_weight <= 0:
            raise ValueError("verdict_weight must be > 0")
        if self.lm_loss_weight < 0 or self.lm_loss_rows < 1:
            raise ValueError("lm_loss_weight must be >= 0 and lm_loss_rows >= 1")
        if self.checkpoint_every < 0 or self.keep_checkpoints < 1:
            raise ValueError("checkpoint_every must be >= 0 and keep_checkpoints >= 1")
        if self.lora_rank < 0 or self.lora_alpha <= 0:
            raise ValueError("lora_rank must be >= 0 and lora_alpha > 0")
        if self.lora_base_dtype not in DTYPES[1:]:
            raise ValueError("lora_base_dtype must be float32 or bfloat16")
        known = ("q", "k", "v", "o", "gate", "up", "down")
        if self.lora_rank and (
            not self.lora_targets or any(t not in known for t in self.lora_targets)
        ):
            raise ValueError(f"lora_targets {self.lora_targets!r}: each one of {', '.join(known)}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """The preset `name` (see PRESETS) with `overrides` (TrainConfig fields) applied."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
        # A copy, so no two configs share the preset's dict fields.
        return dataclasses.replace(copy.deepcopy(PRESETS[name]), **overrides)

    @staticmethod
    def presets() -> tuple[str, ...]:
        return tuple(PRESETS)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        unknown = set(data) - set(cls.field_names())
        if unknown:
            raise ValueError(f"TrainConfig: unknown fields {sorted(unknown)}")
        return cls(**data)


PRESETS: dict[str, TrainConfig] = {
    # The app's first autorater and the learning test (tests/training/loop/test_learning.py):
    # reaches >= 0.9 held-out accuracy on demo_arithmetic in a few CPU minutes on 2 cores.
    "demo": TrainConfig(steps=2000, batch_size=32, learning_rate=3e-3, warmup_steps=50),
    # A handful of steps for integration tests: finishes in seconds after jit.
    "smoke": TrainConfig(
        steps=4, batch_size=8, learning_rate=1e-3, warmup_steps=1, log_every=2, max_len=256
    ),
    # FLAMe's training configuration (Vu et al. 2024): lr 1e-4, dropout 0.05, cap 2^16, warm-up
    # and decay.
    "flame": TrainConfig(
        steps=5000,
        batch_size=32,
        learning_rate=1e-4,
        dropout=0.05,
        warmup_steps=200,
        lr_schedule="cosine",
        model_size="small",
        max_len=1024,
        vocab_size=8192,
        checkpoint_every=200,
    ),
}


# --- `--set FIELD=VALUE` ---------------------------------------------------------------------


def parse_set(items: Iterable[str]) -> dict[str, Any]:
    """TrainConfig overrides from `--set FIELD=VALUE` items: VALUE is parsed as JSON, else kept
    as a string (`--set dtype=bfloat16`, `--set model_overrides={"n_layers":4}`); a later item
    for the same FIELD wins. ValueError naming the item when FIELD is not a TrainConfig field.
    The values themselves are checked when the TrainConfig is built."""
    known = TrainConfig.field_names()
    overrides: dict[str, Any] = {}
    for item in items:
        field, _, value = item.partition("=")
        if field not in known:
            raise ValueError(
                f"--set {item!r}: {field!r} is not a TrainConfig field; known: {', '.join(known)}"
            )
        try:
            overrides[field] = json.loads(value)
        except json.JSONDecodeError:
            overrides[field] = value
    return overrides


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The `--set FIELD=VALUE` option (repeatable) of every training command; see `parse_set`."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a TrainConfig field (VALUE is JSON, else a string), e.g. "
        "--set grad_accum_steps=4 --set dtype=bfloat16",
    )
