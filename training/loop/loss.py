"""Training losses: cross-entropy of the verdict label at each row's last prompt position
(FLAMe's "loss on the target only": nothing on instruction, context or padding tokens),
optionally an auxiliary next-token loss on the prompts, or (`evaluation_block`) the loss on the
whole EVALUATION block: the verdict token, weighted, plus the output fields after it.

Every loss has the signature of `LossFn`: (model, batch, dropout_key, dtype) -> scalar, with
`dtype` the compute dtype the forward pass runs in (mixed precision); the softmax and the loss
are float32 either way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from judging.model import Decoder
from training.config import TrainConfig
from training.loop.batch import Batch

LossFn = Callable[[Decoder, Batch, jax.Array | None, Any], jax.Array]


def compute_dtype(config: TrainConfig) -> Any:
    """bfloat16 on GPU/TPU when config.dtype is "auto", else the configured dtype."""
    if config.dtype == "auto":
        return jnp.bfloat16 if jax.default_backend() in ("gpu", "tpu") else jnp.float32
    return jnp.dtype(config.dtype)


def cast_floats(tree: Any, dtype: Any) -> Any:
    """`tree` with its floating-point leaves cast to `dtype` (others unchanged)."""
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree
    )


def _in_dtype(model: Decoder, dtype) -> Decoder:
    """The model with its float weights cast to `dtype` (unchanged for None or float32)."""
    if dtype is None or dtype == jnp.float32:
        return model
    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, cast_floats(state, dtype))


def label_loss(
    model: Decoder, batch: Batch, dropout_key: jax.Array | None = None, dtype: Any = None
) -> jax.Array:
    """Mean cross-entropy of the label token at each row's last prompt position."""
    model = _in_dtype(model, dtype)
    logits_BV = model.logits_at(batch.tokens, batch.last, batch.mask, dropout_key=dropout_key)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits_BV.astype(jnp.float32), batch.targets
    ).mean()


def label_and_lm_loss(
    model: Decoder,
    batch: Batch,
    dropout_key: jax.Array | None = None,
    dtype: Any = None,
    *,
    weight: float,
    rows: int,
    stride: int = 4,
) -> jax.Array:
    """`label_loss` plus `weight` x the next-token loss over the prompts of the batch's first
    `rows` rows, at every `stride`-th position (the vocabulary projection is the cost): a
    language-modelling signal on the whole text, not only the verdict's token."""
    model = _in_dtype(model, dtype)
    tokens, mask = batch.tokens, batch.mask
    logits_BV, hidden_RLD = model.logits_at_with_hidden(tokens, batch.last, mask, rows, dropout_key)
    loss = optax.softmax_cross_entropy_with_integer_labels(
        logits_BV.astype(jnp.float32), batch.targets
    ).mean()
    tokens_RL, mask_RL = tokens[:rows], mask[:rows]
    logits_RLV = model.project(hidden_RLD[:, :-1:stride]).astype(jnp.float32)
    next_RL = tokens_RL[:, 1::stride]
    token_loss = optax.softmax_cross_entropy_with_integer_labels(logits_RLV, next_RL)
    counted = (mask_RL[:, 1::stride] & mask_RL[:, :-1:stride]).astype(jnp.float32)
    lm = (token_loss * counted).sum() / jnp.maximum(counted.sum(), 1.0)
    return loss + weight * lm


def evaluation_block_loss(
    model: Decoder,
    batch: Batch,
    dropout_key: jax.Array | None = None,
    dtype: Any = None,
    *,
    verdict_weight: float,
) -> jax.Array:
    """Loss on the whole EVALUATION block: `verdict_weight` x the verdict token's mean
    cross-entropy (at each row's `last`) plus the mean next-token cross-entropy over the tokens
    after the verdict (a row's real tokens past last + 1: later output fields and EOS; rows
    without them add nothing)."""
    model = _in_dtype(model, dtype)
    hidden_BLD = model.hidden(batch.tokens, batch.mask, dropout_key=dropout_key)
    logits_BLV = model.project(hidden_BLD).astype(jnp.float32)
    at_last = jnp.take_along_axis(logits_BLV, batch.last[:, None, None], axis=1)[:, 0]
    verdict = optax.softmax_cross_entropy_with_integer_labels(at_last, batch.targets).mean()
    positions_L = jnp.arange(batch.tokens.shape[1] - 1)
    after_BL = positions_L[None, :] > batch.last[:, None]  # predicting from the verdict on
    counted = (after_BL & batch.mask[:, 1:]).astype(jnp.float32)
    token_loss = optax.softmax_cross_entropy_with_integer_labels(
        logits_BLV[:, :-1], batch.tokens[:, 1:]
    )
    tail = (token_loss * counted).sum() / jnp.maximum(counted.sum(), 1.0)
    return verdict_weight * verdict + tail


def config_loss(config: TrainConfig) -> LossFn:
    """The training loss a config asks for: `label_loss`, with `lm_loss_weight` > 0
    `label_and_lm_loss`, with `evaluation_block` `evaluation_block_loss`."""
    if config.evaluation_block:
        return functools.partial(evaluation_block_loss, verdict_weight=config.verdict_weight)
    if config.lm_loss_weight <= 0:
        return label_loss
    rows = min(config.lm_loss_rows, config.batch_size // config.grad_accum_steps)
    return functools.partial(label_and_lm_loss, weight=config.lm_loss_weight, rows=rows)
