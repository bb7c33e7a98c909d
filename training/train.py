"""The FLAMe training loop: tokenizer, multitask mixture, swap augmentation, AdamW, checkpoint.

Loss is cross-entropy over the full vocabulary at the label position only (the last prompt
token, whose next token is the EVALUATION label), as in FLAMe's "loss on the target only".
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from judging.checkpoint import save_checkpoint
from judging.inference import bucket_length, encode_prompt, pad_batch
from judging.model import Decoder, ModelConfig, count_params
from judging.task_format import (
    FORMAT_VERSION,
    Example,
    Task,
    TaskType,
    read_jsonl,
    render_example,
    swap_pairwise,
)
from judging.tokenizer import JudgeTokenizer, format_constant_lines, train_tokenizer
from training.config import TrainConfig
from training.mixture import build_mixture, mixture_weights

ProgressFn = Callable[[int, int, float], None]


@dataclasses.dataclass
class TrainResult:
    checkpoint_dir: Path
    steps: int
    final_loss: float
    loss_history: list[tuple[int, float]]
    config: TrainConfig


def load_snapshot(path: str | Path) -> tuple[dict[str, Task], list[Example]]:
    """Read a dataset snapshot in the JSONL interchange format."""
    return read_jsonl(path)


@dataclasses.dataclass
class EncodedItem:
    """One trainable example, pre-tokenized in the given order and (pairwise) swapped."""

    task: str
    prompt: list[int]
    target: int
    swapped_prompt: list[int] | None = None
    swapped_target: int | None = None


def encode_examples(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    tokenizer: JudgeTokenizer,
    max_len: int,
) -> list[EncodedItem]:
    """Tokenize every labelled example of a scorable task (others are skipped)."""
    items = []
    for example in examples:
        task = tasks.get(example.task)
        if task is None or task.type is TaskType.OPEN_ENDED or example.label is None:
            continue
        if example.label not in task.labels:
            continue
        item = EncodedItem(
            task=task.name,
            prompt=encode_prompt(tokenizer, task, example, max_len),
            target=tokenizer.label_token_id(example.label),
        )
        if task.type is TaskType.PAIRWISE:
            swapped = swap_pairwise(example)
            item.swapped_prompt = encode_prompt(tokenizer, task, swapped, max_len)
            item.swapped_target = tokenizer.label_token_id(swapped.label)
        items.append(item)
    return items


def _decay_mask(params: Any) -> Any:
    # No weight decay on norm scales (1-D params).
    return jax.tree.map(lambda p: p.ndim > 1, params)


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=min(config.warmup_steps, max(config.steps - 1, 0)),
        decay_steps=max(config.steps, 1),
        end_value=config.learning_rate * 0.1,
    )
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(schedule, weight_decay=config.weight_decay, mask=_decay_mask),
    )


def label_loss(model: Decoder, tokens, mask, last, targets, dropout_key=None) -> jax.Array:
    """Mean cross-entropy of the label token at each row's last prompt position."""
    logits_BV = model.logits_at(tokens, last, mask, dropout_key=dropout_key)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits_BV.astype(jnp.float32), targets
    ).mean()


@jax.jit(static_argnums=0, donate_argnums=1)
def _train_step(graphdef, state, tokens, mask, last, targets, dropout_key):
    model, optimizer = nnx.merge(graphdef, state)
    loss, grads = nnx.value_and_grad(label_loss)(model, tokens, mask, last, targets, dropout_key)
    optimizer.update(model, grads)
    return nnx.state((model, optimizer)), loss


def _corpus_texts(tasks: Mapping[str, Task], examples: Sequence[Example]) -> Iterable[str]:
    for example in examples:
        task = tasks.get(example.task)
        if task is not None:
            yield render_example(task, example)


def train(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    out_dir: str | Path,
    on_progress: ProgressFn | None = None,
    tokenizer_texts: Iterable[str] | None = None,
) -> TrainResult:
    started = time.monotonic()
    all_labels = sorted({label for task in tasks.values() for label in task.labels})
    texts = tokenizer_texts if tokenizer_texts is not None else _corpus_texts(tasks, examples)
    tokenizer = train_tokenizer(
        texts, config.vocab_size, labels=all_labels,
        constant_lines=format_constant_lines(tasks.values()),
    )

    items = encode_examples(tasks, examples, tokenizer, config.max_len)
    if not items:
        raise ValueError("no trainable examples: need labelled examples of non-open-ended tasks")
    indices_by_task: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        indices_by_task.setdefault(item.task, []).append(i)
    counts = {name: len(idx) for name, idx in indices_by_task.items()}
    weights = mixture_weights(counts, config.per_task_cap, config.mixture_weights)
    stream = iter(build_mixture(indices_by_task, weights, config.seed,
                                config.steps * config.batch_size))
    swap_rng = random.Random(config.seed + 1)

    model_config = ModelConfig.named(
        config.model_size,
        **{"vocab_size": tokenizer.vocab_size, "max_len": config.max_len,
           "dropout": config.dropout, **config.model_overrides},
    )
    model = Decoder(model_config, rngs=nnx.Rngs(config.seed))
    optimizer = nnx.Optimizer(model, make_optimizer(config), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    base_key = jax.random.key(config.seed + 2)

    def next_batch() -> tuple[np.ndarray, ...]:
        seqs: list[list[int]] = []
        targets: list[int] = []
        while len(seqs) < config.batch_size:
            item = items[next(stream)]
            swapped = (item.swapped_prompt, item.swapped_target)
            original = (item.prompt, item.target)
            if item.swapped_prompt is None:
                rows = [original]
            elif config.pair_both_orders:
                rows = [original, swapped] if swap_rng.random() < 0.5 else [swapped, original]
            elif swap_rng.random() < config.swap_probability:
                rows = [swapped]
            else:
                rows = [original]
            for prompt, target in rows[: config.batch_size - len(seqs)]:
                seqs.append(prompt)
                targets.append(target)
        length = bucket_length(max(len(s) for s in seqs), config.max_len)
        tokens, mask, last = pad_batch(seqs, tokenizer.pad_id, length, config.batch_size)
        return tokens, mask, last, np.asarray(targets, dtype=np.int32)

    loss_history: list[tuple[int, float]] = []
    window: list[jax.Array] = []
    for step in range(1, config.steps + 1):
        tokens, mask, last, targets = next_batch()
        key = jax.random.fold_in(base_key, step) if config.dropout > 0 else None
        state, loss = _train_step(graphdef, state, tokens, mask, last, targets, key)
        window.append(loss)
        if step % config.log_every == 0 or step == config.steps:
            mean_loss = float(np.mean([float(x) for x in window]))
            window = []
            if not np.isfinite(mean_loss):
                raise FloatingPointError(f"training loss is {mean_loss} at step {step}")
            loss_history.append((step, mean_loss))
            if on_progress is not None:
                on_progress(step, config.steps, mean_loss)

    model, optimizer = nnx.merge(graphdef, state)
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
        "train_seconds": round(time.monotonic() - started, 2),
    }
    save_checkpoint(out_dir, model, model_config, tokenizer, metadata)
    return TrainResult(out_dir, config.steps, final_loss, loss_history, config)
