"""Parameter-efficient fine-tuning with flax.nnx's LoRA modules, and layer rematerialisation.

`apply_lora` swaps each chosen projection of every block (q, k, v, o of the attention; gate,
up, down of the feed-forward) for an `nnx.LoRALinear` that keeps the projection's own kernel
(and bias) at the same state path and adds the library's `nnx.LoRA` adapter: lora_a [in, r]
(he-uniform) and lora_b [r, out] (zeros, so step 0 is the base model), both `nnx.LoRAParam`.
The output is W x + scale * (x A) B with scale = alpha / rank: the library's LoRA has no scale
of its own, so it enters through its `promote_dtype` hook (`ScaledPromote`), which also keeps
the library's dtype promotion.

The train step (training/loop/step.py) differentiates and optimises `nnx.LoRAParam` alone
(`nnx.Optimizer(model, tx, wrt=nnx.LoRAParam)`): no gradient and no AdamW moments for the base,
which `freeze_base` casts to `config.lora_base_dtype` (bfloat16 by default). After training,
`adapter_tensors` gives the adapters under judging/adapter.py's names, and
`judging.adapter.merge_adapters` folds them into a plain `Decoder`.

`enable_remat` makes every block recompute its activations in the backward pass
(`jax.checkpoint` over the block's split state: `nnx.remat` on a method refuses to update
variables merged inside the step's `jax.value_and_grad`) instead of keeping them: less memory,
about a third more compute.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.nnx.nn import dtypes

from judging.adapter import PROJECTIONS, adapter_name
from judging.model import Block, Decoder

LORA_TARGETS = tuple(PROJECTIONS)


@dataclasses.dataclass(frozen=True)
class ScaledPromote:
    """`nnx.LoRA`'s promote_dtype hook: the library's promotion, then lora_b times `scale`.
    A frozen dataclass, so two graph definitions with the same scale compare equal."""

    scale: float

    def __call__(self, arrays: tuple[Any, ...], dtype: Any = None) -> tuple[Any, ...]:
        x, lora_a, lora_b = dtypes.promote_dtype(arrays, dtype=dtype)
        return x, lora_a, lora_b * jnp.asarray(self.scale, lora_b.dtype)


def check_targets(targets: Sequence[str]) -> None:
    unknown = [t for t in targets if t not in LORA_TARGETS]
    if unknown or not targets:
        raise ValueError(
            f"lora_targets {list(targets)!r}: each must be one of {', '.join(LORA_TARGETS)} "
            "(and at least one)"
        )


def apply_lora(
    model: Decoder, targets: Sequence[str], rank: int, alpha: float, rngs: nnx.Rngs
) -> Decoder:
    """Put a rank-`rank` LoRA adapter on each `targets` projection of every block (in place)."""
    check_targets(targets)
    if rank < 1:
        raise ValueError(f"lora_rank must be >= 1, got {rank}")
    promote = ScaledPromote(float(alpha) / rank)
    for block in model.blocks:
        for name in targets:
            parent = getattr(block, PROJECTIONS[name])
            base: nnx.Linear = getattr(parent, name)
            d_in, d_out = base.in_features, base.out_features
            lora = nnx.LoRALinear(
                d_in,
                d_out,
                lora_rank=rank,
                use_bias=base.bias is not None,
                lora_promote_dtype=promote,
                rngs=rngs,
            )
            lora.kernel = base.kernel
            if base.bias is not None:
                lora.bias = base.bias
            setattr(parent, name, lora)
    return model


def lora_scale(model: Decoder) -> float:
    """alpha / rank of a model with adapters (ValueError if it has none)."""
    for block in model.blocks:
        for name in LORA_TARGETS:
            layer = getattr(getattr(block, PROJECTIONS[name]), name)
            if isinstance(layer, nnx.LoRALinear):
                return layer.lora.promote_dtype.scale
    raise ValueError("the model has no LoRA adapters")


# The frozen base: every parameter that is not an adapter.
BASE = nnx.All(nnx.Param, nnx.Not(nnx.LoRAParam))


def freeze_base(model: Decoder, dtype: Any) -> Decoder:
    """The model with its base parameters (not the adapters) cast to `dtype`."""
    graphdef, base, rest = nnx.split(model, BASE, ...)
    base = jax.tree.map(lambda x: x.astype(dtype), base)
    return nnx.merge(graphdef, base, rest)


def adapter_tensors(model: Decoder) -> dict[str, np.ndarray]:
    """The adapters as float32 numpy arrays under `judging.adapter.adapter_name` names."""
    out: dict[str, np.ndarray] = {}
    for i, block in enumerate(model.blocks):
        for name in LORA_TARGETS:
            layer = getattr(getattr(block, PROJECTIONS[name]), name)
            if isinstance(layer, nnx.LoRALinear):
                for matrix in ("lora_a", "lora_b"):
                    value = getattr(layer.lora, matrix)[...]
                    out[adapter_name(i, name, matrix)] = np.asarray(
                        jax.device_get(value), dtype=np.float32
                    )
    return out


def set_adapter_tensors(model: Decoder, tensors: dict[str, np.ndarray]) -> None:
    """Load `adapter_tensors` output back into a model with the same adapters (in place)."""
    for i, block in enumerate(model.blocks):
        for name in LORA_TARGETS:
            layer = getattr(getattr(block, PROJECTIONS[name]), name)
            if isinstance(layer, nnx.LoRALinear):
                for matrix in ("lora_a", "lora_b"):
                    variable = getattr(layer.lora, matrix)
                    variable[...] = jnp.asarray(tensors[adapter_name(i, name, matrix)])


class _RematBlock(Block):
    """A Block whose full-sequence forward is rematerialised (see `enable_remat`): its params
    go through `jax.checkpoint` as explicit state (a block's forward mutates nothing)."""

    def __call__(self, x_BLD, sin, cos, mask_BLS, key):
        graphdef, state = nnx.split(self)

        def forward(state, x_BLD, sin, cos, mask_BLS, key):
            return Block.__call__(nnx.merge(graphdef, state), x_BLD, sin, cos, mask_BLS, key)

        return jax.checkpoint(forward)(state, x_BLD, sin, cos, mask_BLS, key)


def enable_remat(model: Decoder) -> Decoder:
    """Every block recomputes its activations in the backward pass (in place)."""
    for block in model.blocks:
        if type(block) is Block:
            block.__class__ = _RematBlock
    return model
