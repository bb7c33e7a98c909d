"""The optimizer: AdamW (no weight decay on 1-D parameters) after global-norm clipping, with a
linear warm-up then cosine / linear decay or a constant learning rate."""

from __future__ import annotations

from typing import Any

import jax
import optax

from training.config import TrainConfig


def _decay_mask(params: Any) -> Any:
    # No weight decay on norm scales (1-D params).
    return jax.tree.map(lambda p: p.ndim > 1, params)


def lr_schedule(config: TrainConfig) -> optax.Schedule:
    """Linear warm-up from 0, then cosine / linear decay to lr * end_lr_ratio, or constant."""
    peak, end = config.learning_rate, config.learning_rate * config.end_lr_ratio
    warmup = min(config.warmup_steps, max(config.steps - 1, 0))
    if config.lr_schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(
            init_value=0.0,
            peak_value=peak,
            warmup_steps=warmup,
            decay_steps=max(config.steps, 1),
            end_value=end,
        )
    after = (
        optax.linear_schedule(peak, end, max(config.steps - warmup, 1))
        if config.lr_schedule == "linear"
        else optax.constant_schedule(peak)
    )
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), after], [warmup])


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(lr_schedule(config), weight_decay=config.weight_decay, mask=_decay_mask),
    )
