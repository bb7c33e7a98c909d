"""The FLAMe training loop: tokenizer, multitask mixture, augmentation, AdamW, checkpoints.

Loss is cross-entropy over the full vocabulary at the label position only (the last prompt
token, whose next token is the EVALUATION label), as in FLAMe's "loss on the target only": no
loss on instruction, context or padding tokens.

Scale-out (see training/parallel.py): one "data" mesh axis over all devices of all processes;
the batch is sharded over it, parameters are replicated or (config.fsdp) sharded. Gradient
accumulation splits each batch into equal micro-batches inside one jitted step (`lax.scan`), so
the update equals the big batch's. Compute runs in bfloat16 on GPU/TPU (config.dtype "auto"),
with float32 master weights and optimizer state.

Resume: with a `state_dir`, the model, optimizer state, step, mixture iterator position and
augmentation RNG states are saved with orbax every `config.checkpoint_every` steps (atomic, the
newest `config.keep_checkpoints` kept) along with the tokenizer; a run given a `state_dir` that
holds a checkpoint of the same config and data resumes from its newest step and ends with the
same parameters as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx

from judging.checkpoint import load_checkpoint, save_checkpoint
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
from training import parallel
from training.augment import drop_reference
from training.config import TrainConfig
from training.mixture import build_mixture, mixture_weights

ProgressFn = Callable[[int, int, float], None]

STATE_STEPS_DIR = "steps"
STATE_TOKENIZER = "tokenizer.json"


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


def load_snapshot(path: str | Path) -> tuple[dict[str, Task], list[Example]]:
    """Read a dataset snapshot in the JSONL interchange format."""
    return read_jsonl(path)


@dataclasses.dataclass
class EncodedItem:
    """One trainable example, pre-tokenized in the given order and (pairwise) swapped.

    `noref_*`: the same prompts without the example's reference (reference drop); None when the
    example has no reference or reference drop is off."""

    task: str
    prompt: list[int]
    target: int
    swapped_prompt: list[int] | None = None
    swapped_target: int | None = None
    noref_prompt: list[int] | None = None
    noref_swapped_prompt: list[int] | None = None


def encode_examples(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    tokenizer: JudgeTokenizer,
    max_len: int,
    reference_drop: bool = False,
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
        pairwise = task.type is TaskType.PAIRWISE
        if pairwise:
            swapped = swap_pairwise(example)
            item.swapped_prompt = encode_prompt(tokenizer, task, swapped, max_len)
            item.swapped_target = tokenizer.label_token_id(swapped.label)
        if reference_drop and example.reference:
            bare = drop_reference(example)
            item.noref_prompt = encode_prompt(tokenizer, task, bare, max_len)
            if pairwise:
                item.noref_swapped_prompt = encode_prompt(
                    tokenizer, task, swap_pairwise(bare), max_len
                )
        items.append(item)
    return items


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


def compute_dtype(config: TrainConfig) -> Any:
    """bfloat16 on GPU/TPU when config.dtype is "auto", else the configured dtype."""
    if config.dtype == "auto":
        return jnp.bfloat16 if jax.default_backend() in ("gpu", "tpu") else jnp.float32
    return jnp.dtype(config.dtype)


def _cast_floats(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree
    )


def _in_dtype(model: Decoder, dtype) -> Decoder:
    """The model with its float weights cast to `dtype` (unchanged for None or float32)."""
    if dtype is None or dtype == jnp.float32:
        return model
    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, _cast_floats(state, dtype))


def label_loss(
    model: Decoder, tokens, mask, last, targets, dropout_key=None, dtype=None
) -> jax.Array:
    """Mean cross-entropy of the label token at each row's last prompt position.

    `dtype`: run the forward pass with the weights cast to it (mixed precision); the loss and
    the softmax are float32 either way."""
    model = _in_dtype(model, dtype)
    logits_BV = model.logits_at(tokens, last, mask, dropout_key=dropout_key)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits_BV.astype(jnp.float32), targets
    ).mean()


def label_and_lm_loss(
    model: Decoder,
    tokens,
    mask,
    last,
    targets,
    dropout_key=None,
    dtype=None,
    *,
    weight: float,
    rows: int,
    stride: int = 4,
) -> jax.Array:
    """`label_loss` plus `weight` x the next-token loss over the prompts of the batch's first
    `rows` rows, at every `stride`-th position (the vocabulary projection is the cost): a
    language-modelling signal on the whole text, not only the verdict's token."""
    model = _in_dtype(model, dtype)
    logits_BV, hidden_RLD = model.logits_at_with_hidden(tokens, last, mask, rows, dropout_key)
    loss = optax.softmax_cross_entropy_with_integer_labels(
        logits_BV.astype(jnp.float32), targets
    ).mean()
    tokens_RL, mask_RL = tokens[:rows], mask[:rows]
    logits_RLV = model.project(hidden_RLD[:, :-1:stride]).astype(jnp.float32)
    next_RL = tokens_RL[:, 1::stride]
    token_loss = optax.softmax_cross_entropy_with_integer_labels(logits_RLV, next_RL)
    counted = (mask_RL[:, 1::stride] & mask_RL[:, :-1:stride]).astype(jnp.float32)
    lm = (token_loss * counted).sum() / jnp.maximum(counted.sum(), 1.0)
    return loss + weight * lm


def config_loss(config: TrainConfig) -> Callable[..., jax.Array]:
    """The training loss a config asks for: `label_loss`, or with `lm_loss_weight` > 0
    `label_and_lm_loss`."""
    if config.lm_loss_weight <= 0:
        return label_loss
    rows = min(config.lm_loss_rows, config.batch_size // config.grad_accum_steps)
    return functools.partial(label_and_lm_loss, weight=config.lm_loss_weight, rows=rows)


@jax.jit(static_argnums=0, donate_argnums=1)
def _train_step(graphdef, state, tokens, mask, last, targets, dropout_key):
    """One plain step on one device (kept for callers that build their own loop)."""
    model, optimizer = nnx.merge(graphdef, state)
    loss, grads = nnx.value_and_grad(label_loss)(model, tokens, mask, last, targets, dropout_key)
    optimizer.update(model, grads)
    return nnx.state((model, optimizer)), loss


def init_train_state(
    model_config: ModelConfig,
    config: TrainConfig,
    mesh: jax.sharding.Mesh,
    init_params: nnx.State | None = None,
) -> tuple[nnx.GraphDef, nnx.State]:
    """(graphdef, state) of the model and its AdamW optimizer, created in one jitted call
    directly with the mesh shardings (replicated, or FSDP-sharded). The model is initialised
    from config.seed, or takes `init_params` (a saved judge's nnx.Param state)."""
    param_dtype = jnp.dtype(config.param_dtype)

    def build(params: nnx.State | None) -> tuple[Decoder, nnx.Optimizer]:
        model = Decoder(model_config, rngs=nnx.Rngs(config.seed))
        if params is not None:
            nnx.update(model, params)
        if param_dtype != jnp.float32:
            model_def, model_state = nnx.split(model)
            model = nnx.merge(model_def, _cast_floats(model_state, param_dtype))
        return model, nnx.Optimizer(model, make_optimizer(config), wrt=nnx.Param)

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
    loss_fn: Callable[..., jax.Array] = label_loss,
) -> tuple[Callable[..., tuple[nnx.State, jax.Array]], nnx.State]:
    """A jitted step over the mesh, and the (model, optimizer) state placed on it.

    The step takes (state, tokens_ABL, mask_ABL, last_AB, targets_AB, dropout_key) with A =
    config.grad_accum_steps micro-batches (use `place_batch`), averages the micro-batch
    gradients, applies one optimizer update and returns (new state, mean loss).
    `loss_fn(model, tokens, mask, last, targets, dropout_key, dtype)` defaults to label_loss."""
    dtype = compute_dtype(config)
    accum = config.grad_accum_steps
    shardings = jax.tree.map(lambda x: parallel.param_sharding(mesh, x.shape, config.fsdp), state)
    state = jax.device_put(state, shardings)

    def step(state, tokens, mask, last, targets, key):
        model, optimizer = nnx.merge(graphdef, state)
        model_def, params = nnx.split(model, nnx.Param)

        def pure_loss(params, t, m, i, y, k):
            return loss_fn(nnx.merge(model_def, params), t, m, i, y, k, dtype)

        grad_fn = jax.value_and_grad(pure_loss)
        if accum == 1:
            loss, grads = grad_fn(params, tokens[0], mask[0], last[0], targets[0], key)
        else:

            def body(carry, xs):
                loss_sum, grad_sum = carry
                index, t, m, i, y = xs
                k = None if key is None else jax.random.fold_in(key, index)
                loss, grads = grad_fn(params, t, m, i, y, k)
                return (loss_sum + loss, jax.tree.map(jnp.add, grad_sum, grads)), None

            zeros = jax.tree.map(jnp.zeros_like, params)
            xs = (jnp.arange(accum), tokens, mask, last, targets)
            (loss, grads), _ = jax.lax.scan(body, (jnp.zeros((), jnp.float32), zeros), xs)
            loss = loss / accum
            grads = jax.tree.map(lambda g: g / accum, grads)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    jitted = jax.jit(step, donate_argnums=0, out_shardings=(shardings, parallel.replicated(mesh)))
    return jitted, state


def place_batch(
    mesh: jax.sharding.Mesh, accum: int, tokens, mask, last, targets
) -> tuple[jax.Array, ...]:
    """Host batch [B, ...] -> global arrays [A, B / A, ...], rows sharded over the data axis."""
    out = []
    for host in (tokens, mask, last, targets):
        host = np.asarray(host).reshape(accum, -1, *np.shape(host)[1:])
        out.append(parallel.global_array(host, parallel.batch_sharding(mesh, host.ndim, 1)))
    return tuple(out)


class BatchSource:
    """Builds padded batches from the mixture stream with swap / reference-drop augmentation.

    Its position (mixture iterator + RNG states) is `get_state()` / `set_state()`, JSON-able."""

    def __init__(
        self,
        items: Sequence[EncodedItem],
        weights: Mapping[str, float],
        config: TrainConfig,
        pad_id: int,
    ) -> None:
        indices_by_task: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            indices_by_task.setdefault(item.task, []).append(i)
        self.items, self.config, self.pad_id = items, config, pad_id
        self.stream = iter(
            build_mixture(indices_by_task, weights, config.seed, config.steps * config.batch_size)
        )
        self.swap_rng = random.Random(config.seed + 1)
        self.ref_rng = random.Random(config.seed + 3)

    def _rows(self, item: EncodedItem) -> list[tuple[list[int], int]]:
        config = self.config
        prompt, swapped_prompt = item.prompt, item.swapped_prompt
        if item.noref_prompt is not None and self.ref_rng.random() < config.reference_drop:
            prompt, swapped_prompt = item.noref_prompt, item.noref_swapped_prompt
        original = (prompt, item.target)
        if swapped_prompt is None:
            return [original]
        swapped = (swapped_prompt, item.swapped_target)
        if config.pair_both_orders:
            return [original, swapped] if self.swap_rng.random() < 0.5 else [swapped, original]
        if self.swap_rng.random() < config.swap_probability:
            return [swapped]
        return [original]

    def next_batch(self) -> tuple[np.ndarray, ...]:
        size = self.config.batch_size
        seqs: list[list[int]] = []
        targets: list[int] = []
        while len(seqs) < size:
            for prompt, target in self._rows(self.items[next(self.stream)])[: size - len(seqs)]:
                seqs.append(prompt)
                targets.append(target)
        length = bucket_length(max(len(s) for s in seqs), self.config.max_len)
        tokens, mask, last = pad_batch(seqs, self.pad_id, length, size)
        return tokens, mask, last, np.asarray(targets, dtype=np.int32)

    def get_state(self) -> dict[str, Any]:
        return {
            "mixture": self.stream.get_state(),
            "swap_rng": _rng_state(self.swap_rng),
            "ref_rng": _rng_state(self.ref_rng),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.stream.set_state(state["mixture"])
        _set_rng_state(self.swap_rng, state["swap_rng"])
        _set_rng_state(self.ref_rng, state["ref_rng"])


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng_state(rng: random.Random, state: Sequence[Any]) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


def _corpus_texts(tasks: Mapping[str, Task], examples: Sequence[Example]) -> Iterable[str]:
    for example in examples:
        task = tasks.get(example.task)
        if task is not None:
            yield render_example(task, example)


def corpus_tokenizer(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    vocab_size: int,
    texts: Iterable[str] | None = None,
) -> JudgeTokenizer:
    """The tokenizer `train` builds: a BPE on the examples' rendered texts (or `texts`), every
    label of the tasks one token, each task's instruction lines one token."""
    return train_tokenizer(
        texts if texts is not None else _corpus_texts(tasks, examples),
        vocab_size,
        labels=sorted({label for task in tasks.values() for label in task.labels}),
        constant_lines=format_constant_lines(tasks.values()),
    )


def data_fingerprint(
    tasks: Mapping[str, Task], examples: Sequence[Example], init_checkpoint: str | None
) -> str:
    """A hash of the tasks, examples and starting checkpoint: a resume must see the same."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {"tasks": {n: t.to_dict() for n, t in sorted(tasks.items())}, "init": init_checkpoint},
            sort_keys=True,
            default=str,
        ).encode()
    )
    for example in examples:
        digest.update(json.dumps(example.to_dict(), sort_keys=True, default=str).encode())
    return digest.hexdigest()


class StateStore:
    """Resumable training state in `directory`: orbax steps (model + optimizer state as one
    pytree, the rest as JSON) under steps/, and the run's tokenizer."""

    def __init__(self, directory: str | Path, keep: int) -> None:
        self.directory = Path(directory).absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.manager = ocp.CheckpointManager(
            self.directory / STATE_STEPS_DIR,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, enable_async_checkpointing=False, create=True
            ),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def load_tokenizer(self) -> JudgeTokenizer:
        return JudgeTokenizer.load(self.directory / STATE_TOKENIZER)

    def save_tokenizer(self, tokenizer: JudgeTokenizer) -> None:
        if jax.process_index() != 0:
            return
        path = self.directory / STATE_TOKENIZER
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tokenizer.save(tmp)
        os.replace(tmp, path)

    def save(self, step: int, state: nnx.State, meta: dict[str, Any]) -> None:
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(nnx.to_pure_dict(state)), meta=ocp.args.JsonSave(meta)
        )
        self.manager.save(step, args=args, force=True)
        self.manager.wait_until_finished()

    def read_meta(self, step: int) -> dict[str, Any]:
        """The JSON part of step `step` (config, data fingerprint, batch position, losses)."""
        restored = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return restored["meta"]

    def restore(self, step: int, state: nnx.State) -> dict[str, Any]:
        """Load step `step` into `state` (in place, keeping its shardings); return its JSON."""
        pure = nnx.to_pure_dict(state)
        target = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), pure
        )
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore()
            ),
        )
        nnx.replace_by_pure_dict(state, restored["state"])
        return restored["meta"]

    def close(self) -> None:
        self.manager.close()


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
    init_checkpoint: start from this saved judge's weights, model config and tokenizer.
    tokenizer: use this tokenizer instead of building one (`corpus_tokenizer`).
    """
    started = time.monotonic()
    parallel.initialize_distributed()
    init = load_checkpoint(init_checkpoint) if init_checkpoint is not None else None
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
    try:
        items = encode_examples(tasks, examples, tokenizer, max_len, config.reference_drop > 0)
    except KeyError as error:
        raise ValueError(f"a label is not one token of the tokenizer: {error}") from None
    if not items:
        raise ValueError("no trainable examples: need labelled examples of non-open-ended tasks")
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
            batch = place_batch(mesh, config.grad_accum_steps, *host_batch)
            state, loss = step_fn(state, *batch, key)
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
    model = _host_model(model, model_config)
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
        "init_checkpoint": init_path,
        "resumed_from_step": resume_step or 0,
        "devices": mesh.size,
        "sharded_arrays": sharded,
        "processes": jax.process_count(),
        "compute_dtype": jnp.dtype(compute_dtype(config)).name,
    }
    if jax.process_index() == 0:
        save_checkpoint(out_dir, model, model_config, tokenizer, metadata)
    return TrainResult(
        out_dir, config.steps, final_loss, loss_history, config, resumed_from_step=resume_step or 0
    )
