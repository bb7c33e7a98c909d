"""train(): tokenizer, multitask mixture, augmentation, AdamW, checkpoints.

Loss on the verdict label only (loss.py); scale-out, gradient accumulation and mixed precision
in step.py. Resume: a run given a `state_dir` that holds a checkpoint of the same config and
data (state.py) resumes from its newest step and ends with the same parameters as an
uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from judging.adapter import is_adapter_checkpoint, save_adapter_checkpoint, weights_sha256
from judging.checkpoint import save_checkpoint
from judging.model import Decoder, ModelConfig, count_params
from judging.task_format import FORMAT_VERSION, Example, Task
from judging.tokenizer import JudgeTokenizer
from training import lora, parallel
from training.config import TrainConfig
from training.init import check_label_tokens, load_init
from training.loop.batch import place_batch
from training.loop.data import BatchSource, corpus_tokenizer, data_fingerprint, encode_examples
from training.loop.loss import compute_dtype, config_loss
from training.loop.state import StateStore
from training.loop.step import init_train_state, make_train_step
from training.mixture import mixture_weights

ProgressFn = Callable[[int, int, float], None]


class TrainingCancelled(Exception):
    """Raised by train() when `should_stop()` returned True (state saved first if possible)."""

    def __init__(self, step: int, state_dir: Path | None) -> None:
        saved = f"; state saved in {state_dir}" if state_dir is not None else ""
        super().__init__(f"training cancelled after step {step}{saved}")
        self.step = step
        self.state_dir = state_dir


@dataclasses.dataclass
class TrainResult:
    checkpoint_dir: Path
    steps: int
    final_loss: float
    loss_history: list[tuple[int, float]]
    config: TrainConfig
    resumed_from_step: int = 0


def _stop_requested(should_stop: Callable[[], bool] | None) -> bool:
    if should_stop is None:
        return False
    stop = bool(should_stop())
    if jax.process_count() > 1:  # every process must agree, or the collectives hang
        from jax.experimental import multihost_utils

        stop = bool(multihost_utils.broadcast_one_to_all(np.asarray(stop)))
    return stop


def _host_model(model: Decoder, model_config: ModelConfig) -> Decoder:
    """The model with float32 params gathered from every device and process: on this
    process's first device, or as numpy in a multi-process run (orbax saves those locally)."""
    local = jnp.asarray if jax.process_count() == 1 else np.asarray
    params = jax.tree.map(
        lambda x: local(
            parallel.to_host(x).astype(np.float32)
            if jnp.issubdtype(x.dtype, jnp.floating)
            else parallel.to_host(x)
        ),
        nnx.to_pure_dict(nnx.state(model, nnx.Param)),
    )
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: Decoder(model_config, rngs=nnx.Rngs(0))))
    nnx.replace_by_pure_dict(abstract, params)
    return nnx.merge(graphdef, abstract)


def train(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: str | Path,
    on_progress: ProgressFn | None = None,
    tokenizer_texts: Iterable[str] | None = None,
    *,
    state_dir: str | Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    init_checkpoint: str | Path | None = None,
    tokenizer: JudgeTokenizer | None = None,
) -> TrainResult:
    """Train a judge and save it to `out_dir` (judging.checkpoint format).

    state_dir: resumable state every config.checkpoint_every steps; resumes from it if it
    holds a checkpoint of this config and data (ValueError if of another run).
    should_stop: polled after every step; True saves the state and raises TrainingCancelled.
    init_checkpoint: start from this checkpoint's weights, model config and tokenizer: an
    Ember, adapter or Hugging Face checkpoint directory (training/init.py).
    With config.lora_rank > 0 (needs init_checkpoint) only LoRA adapters train, and `out_dir`
    is an adapter-only checkpoint referring to init_checkpoint (judging/adapter.py).
    tokenizer: use this tokenizer instead of building one (`corpus_tokenizer`).
    """
    started = time.monotonic()
    parallel.initialize_distributed()
    if config.lora_rank and init_checkpoint is None:
        raise ValueError("lora_rank > 0 fine-tunes a pretrained model: give --init DIR")
    if config.lora_rank and is_adapter_checkpoint(init_checkpoint):
        raise ValueError(
            f"--init {init_checkpoint} is an adapter checkpoint: LoRA trains adapters on a full "
            "base (export it merged with `python -m training export-hf` first)"
        )
    init = load_init(init_checkpoint) if init_checkpoint is not None else None
    init_path = None if init_checkpoint is None else str(Path(init_checkpoint).absolute())
    fingerprint = data_fingerprint(tasks, examples, init_path)
    store = StateStore(state_dir, config.keep_checkpoints) if state_dir is not None else None
    resume_step = store.latest_step() if store is not None else None
    if resume_step is not None:
        meta = store.read_meta(resume_step)
        if meta["train_config"] != json.loads(json.dumps(config.to_dict())) or (
            meta["fingerprint"] != fingerprint
        ):
            store.close()
            raise ValueError(
                f"{state_dir} holds the training state of a different run (config or data "
                "differ); use a new state_dir"
            )

    max_len = config.max_len if init is None else min(config.max_len, init.config.max_len)
    if resume_step is not None:
        tokenizer = store.load_tokenizer()
    elif init is not None:
        tokenizer = init.tokenizer
    elif tokenizer is None:
        tokenizer = corpus_tokenizer(tasks, examples, config.vocab_size, tokenizer_texts)
    if type(tokenizer) is not JudgeTokenizer:  # a pretrained tokenizer: labels in context
        check_label_tokens(
            {t.name: t for t in tasks.values() if any(e.task == t.name for e in examples)},
            tokenizer,
            init_path,
        )
    try:
        items = encode_examples(
            tasks,
            examples,
            tokenizer,
            max_len,
            config.reference_drop > 0,
            evaluation_block=config.evaluation_block,
        )
    except KeyError as error:
        raise ValueError(f"a label is not one token of the tokenizer: {error}") from None
    if not items:
        raise ValueError(
            "no trainable examples: need labelled examples of non-open-ended tasks (or "
            "evaluation_block for open-ended and real-valued ones)"
        )
    counts: dict[str, int] = {}
    for item in items:
        counts[item.task] = counts.get(item.task, 0) + 1
    weights = mixture_weights(counts, config.per_task_cap, config.mixture_weights)
    batches = BatchSource(items, weights, config, tokenizer.pad_id)

    mesh = parallel.make_mesh()
    micro = config.batch_size // config.grad_accum_steps
    if micro % mesh.size:
        raise ValueError(
            f"batch_size / grad_accum_steps = {micro} rows must divide over {mesh.size} devices"
        )
    if init is not None:
        model_config = dataclasses.replace(init.config, dropout=config.dropout)
        init_params = nnx.state(init.model, nnx.Param)
    else:
        model_config = ModelConfig.named(
            config.model_size,
            **{
                "vocab_size": tokenizer.vocab_size,
                "max_len": max_len,
                "dropout": config.dropout,
                **config.model_overrides,
            },
        )
        init_params = None
    graphdef, state = init_train_state(model_config, config, mesh, init_params)
    step_fn, state = make_train_step(graphdef, state, config, mesh, config_loss(config))
    base_key = jax.random.key(config.seed + 2)

    loss_history: list[tuple[int, float]] = []
    window: list[Any] = []
    first_step = 1
    if resume_step is not None:
        meta = store.restore(resume_step, state)
        batches.set_state(meta["batches"])
        loss_history = [(int(s), float(v)) for s, v in meta["loss_history"]]
        window = [float(v) for v in meta["window"]]
        first_step = resume_step + 1
    elif store is not None:
        store.save_tokenizer(tokenizer)

    def save_state(step: int) -> None:
        nonlocal window
        window = [float(parallel.to_host(x)) for x in window]
        meta = {
            "step": step,
            "train_config": config.to_dict(),
            "fingerprint": fingerprint,
            "batches": batches.get_state(),
            "loss_history": loss_history,
            "window": window,
        }
        store.save(step, state, meta)

    try:
        for step in range(first_step, config.steps + 1):
            host_batch = batches.next_batch()
            key = jax.random.fold_in(base_key, step) if config.dropout > 0 else None
            batch = place_batch(mesh, config.grad_accum_steps, host_batch)
            state, loss = step_fn(state, batch, key)
            window.append(loss)
            if step % config.log_every == 0 or step == config.steps:
                mean_loss = float(np.mean([float(parallel.to_host(x)) for x in window]))
                window = []
                if not np.isfinite(mean_loss):
                    raise FloatingPointError(f"training loss is {mean_loss} at step {step}")
                loss_history.append((step, mean_loss))
                if on_progress is not None:
                    on_progress(step, config.steps, mean_loss)
            saved = False
            if (
                store is not None
                and config.checkpoint_every
                and (step % config.checkpoint_every == 0 and step < config.steps)
            ):
                save_state(step)
                saved = True
            if step < config.steps and _stop_requested(should_stop):
                if store is not None and not saved:
                    save_state(step)
                raise TrainingCancelled(step, store.directory if store is not None else None)
    finally:
        if store is not None:
            store.close()

    sharded = sum(not x.sharding.is_fully_replicated for x in jax.tree.leaves(state))
    model, _ = nnx.merge(graphdef, state)
    if config.lora_rank:
        adapters = lora.adapter_tensors(model)
        trainable = sum(a.size for a in adapters.values())
        model = init.model  # the base (float32, as loaded); the adapters go beside it
    else:
        model = _host_model(model, model_config)
        trainable = count_params(model)
    final_loss = loss_history[-1][1]
    out_dir = Path(out_dir)
    metadata = {
        "format_version": FORMAT_VERSION,
        "train_config": config.to_dict(),
        "steps": config.steps,
        "final_loss": final_loss,
        "loss_history": loss_history,
        "mixture_weights": weights,
        "examples_per_task": counts,
        "tasks": {name: task.to_dict() for name, task in tasks.items()},
        "n_params": count_params(model),
        "trainable_params": trainable,
        "train_seconds": round(time.monotonic() - started, 2),
        "init_checkpoint": init_path,
        "resumed_from_step": resume_step or 0,
        "devices": mesh.size,
        "sharded_arrays": sharded,
        "processes": jax.process_count(),
        "compute_dtype": jnp.dtype(compute_dtype(config)).name,
        # Tasks whose later output fields (explanations) were trained: the judge generates them.
        "explains": sorted({i.task for i in items if i.tail and tasks[i.task].labels}),
    }
    if jax.process_index() == 0 and config.lora_rank:
        adapter_config = {
            "base": init_path,
            "base_sha256": weights_sha256(init_path),
            "rank": config.lora_rank,
            "alpha": config.lora_alpha,
            "scale": config.lora_alpha / config.lora_rank,
            "targets": list(config.lora_targets),
        }
        save_adapter_checkpoint(out_dir, adapters, adapter_config, metadata)
    elif jax.process_index() == 0:
        save_checkpoint(out_dir, model, model_config, tokenizer, metadata)
    return TrainResult(
        out_dir, config.steps, final_loss, loss_history, config, resumed_from_step=resume_step or 0
    )
