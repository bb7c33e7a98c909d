"""The train state (model + AdamW optimizer) on the device mesh, and the jitted train step.

Scale-out (see training/parallel.py): one "data" mesh axis over all devices of all processes;
the batch is sharded over it, parameters are replicated or (config.fsdp) sharded. Gradient
accumulation splits each batch into equal micro-batches inside one jitted step (`lax.scan`), so
the update equals the big batch's. Compute runs in bfloat16 on GPU/TPU (config.dtype "auto"),
with float32 master weights and optimizer state.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from judging.model import Decoder, ModelConfig
from training import lora, parallel
from training.config import TrainConfig
from training.loop.batch import Batch
from training.loop.loss import LossFn, cast_floats, compute_dtype, label_loss
from training.loop.optimizer import make_optimizer

StepFn = Callable[[nnx.State, Batch, jax.Array | None], tuple[nnx.State, jax.Array]]


@jax.jit(static_argnums=0, donate_argnums=1)
def _train_step(graphdef, state, batch: Batch, dropout_key):
    """One plain step on one device (kept for callers that build their own loop)."""
    model, optimizer = nnx.merge(graphdef, state)
    loss, grads = nnx.value_and_grad(label_loss)(model, batch, dropout_key)
    optimizer.update(model, grads)
    return nnx.state((model, optimizer)), loss


def trained_params(config: TrainConfig) -> type[nnx.Param]:
    """The parameters a step differentiates and optimises: the LoRA adapters, or all."""
    return nnx.LoRAParam if config.lora_rank else nnx.Param


def init_train_state(
    model_config: ModelConfig,
    config: TrainConfig,
    mesh: jax.sharding.Mesh,
    init_params: nnx.State | None = None,
) -> tuple[nnx.GraphDef, nnx.State]:
    """(graphdef, state) of the model and its AdamW optimizer, created in one jitted call
    directly with the mesh shardings (replicated, or FSDP-sharded). The model is initialised
    from config.seed, or takes `init_params` (a saved judge's nnx.Param state). With
    config.lora_rank the model gets LoRA adapters, its base is frozen in config.lora_base_dtype
    and the optimizer holds state for the adapters only (training/lora.py)."""
    param_dtype = jnp.dtype(config.param_dtype)

    def build(params: nnx.State | None) -> tuple[Decoder, nnx.Optimizer]:
        model = Decoder(model_config, rngs=nnx.Rngs(config.seed))
        if params is not None:
            nnx.update(model, params)
        if param_dtype != jnp.float32:
            model_def, model_state = nnx.split(model)
            model = nnx.merge(model_def, cast_floats(model_state, param_dtype))
        if config.lora_rank:
            rngs = nnx.Rngs(config.seed + 4)
            lora.apply_lora(model, config.lora_targets, config.lora_rank, config.lora_alpha, rngs)
            model = lora.freeze_base(model, jnp.dtype(config.lora_base_dtype))
        if config.remat:
            lora.enable_remat(model)
        return model, nnx.Optimizer(model, make_optimizer(config), wrt=trained_params(config))

    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: build(init_params)))
    shardings = jax.tree.map(
        lambda x: parallel.param_sharding(mesh, x.shape, config.fsdp), abstract
    )
    create = jax.jit(lambda params: nnx.split(build(params))[1], out_shardings=shardings)
    return graphdef, create(init_params)


def make_train_step(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    config: TrainConfig,
    mesh: jax.sharding.Mesh,
    loss_fn: LossFn = label_loss,
) -> tuple[StepFn, nnx.State]:
    """A jitted step over the mesh, and the (model, optimizer) state placed on it.

    The step takes (state, batch, dropout_key) with the batch's arrays [A, B / A, ...], A =
    config.grad_accum_steps micro-batches (use `place_batch`), averages the micro-batch
    gradients, applies one optimizer update and returns (new state, mean loss).
    `loss_fn(model, batch, dropout_key, dtype)` defaults to label_loss."""
    dtype = compute_dtype(config)
    accum = config.grad_accum_steps
    shardings = jax.tree.map(lambda x: parallel.param_sharding(mesh, x.shape, config.fsdp), state)
    state = jax.device_put(state, shardings)

    wrt = trained_params(config)

    def step(state, batch: Batch, key):
        model, optimizer = nnx.merge(graphdef, state)
        model_def, params, frozen = nnx.split(model, wrt, ...)
        if config.lora_rank:  # the frozen (e.g. bfloat16) base computes in the compute dtype
            frozen = cast_floats(frozen, dtype)

        def pure_loss(params, micro: Batch, k):
            return loss_fn(nnx.merge(model_def, params, frozen), micro, k, dtype)

        grad_fn = jax.value_and_grad(pure_loss)
        if accum == 1:
            loss, grads = grad_fn(params, jax.tree.map(lambda x: x[0], batch), key)
        else:

            def body(carry, xs):
                loss_sum, grad_sum = carry
                index, micro = xs
                k = None if key is None else jax.random.fold_in(key, index)
                loss, grads = grad_fn(params, micro, k)
                return (loss_sum + loss, jax.tree.map(jnp.add, grad_sum, grads)), None

            zeros = jax.tree.map(jnp.zeros_like, params)
            xs = (jnp.arange(accum), batch)
            (loss, grads), _ = jax.lax.scan(body, (jnp.zeros((), jnp.float32), zeros), xs)
            loss = loss / accum
            grads = jax.tree.map(lambda g: g / accum, grads)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    jitted = jax.jit(step, donate_argnums=0, out_shardings=(shardings, parallel.replicated(mesh)))
    return jitted, state
