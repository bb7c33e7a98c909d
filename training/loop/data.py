"""Training data: snapshots, the run's tokenizer, encoded examples, and the mixture's batches.

`encode_examples` tokenizes every trainable example once (both orders of a pairwise one, and
without its reference when reference drop is on); `BatchSource` draws them from the FLAMe
mixture (training/mixture.py), applies swap / reference-drop augmentation, and pads each batch
to a bucketed length. Its position is JSON-able, so a resumed run draws the same batches.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from judging.inference import bucket_length, encode_prompt, pad_batch
from judging.task_format import (
    Example,
    Task,
    TaskType,
    read_jsonl,
    render_example,
    render_outputs,
    render_target,
    swap_pairwise,
)
from judging.tokenizer import JudgeTokenizer, format_constant_lines, train_tokenizer
from training.augment import drop_reference
from training.config import TrainConfig
from training.loop.batch import Batch
from training.mixture import build_mixture


def load_snapshot(path: str | Path) -> tuple[dict[str, Task], list[Example]]:
    """Read a dataset snapshot in the JSONL interchange format."""
    return read_jsonl(path)


def load_snapshots(paths: Iterable[str | Path]) -> tuple[dict[str, Task], list[Example]]:
    """Several snapshots as one: tasks merged by name (a later file's wins), examples in order."""
    tasks: dict[str, Task] = {}
    examples: list[Example] = []
    for path in paths:
        more_tasks, more_examples = load_snapshot(path)
        tasks.update(more_tasks)
        examples.extend(more_examples)
    return tasks, examples


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
    # The EVALUATION tokens after the verdict token (later output fields, e.g. an explanation,
    # then EOS) when training on the whole block; None: the verdict alone. The original order
    # only: a swapped row's explanation could name the wrong position, so it gets none.
    tail: list[int] | None = None


def encode_examples(
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    tokenizer: JudgeTokenizer,
    max_len: int,
    reference_drop: bool = False,
    evaluation_block: bool = False,
) -> list[EncodedItem]:
    """Tokenize every labelled example of a scorable task (others are skipped). With
    `evaluation_block`, an example's later output fields (render_outputs) become its `tail`,
    and open-ended and real-valued pointwise examples are trained through their rendered text
    (`_free_text_item`)."""
    items = []
    for example in examples:
        task = tasks.get(example.task)
        if task is None or example.label is None:
            continue
        if evaluation_block and not task.labels:
            free = _free_text_item(task, example, tokenizer, max_len)
            if free is not None:
                items.append(free)
            continue
        if task.type is TaskType.OPEN_ENDED:
            continue
        if example.label not in task.labels:
            continue
        item = EncodedItem(
            task=task.name,
            prompt=encode_prompt(tokenizer, task, example, max_len),
            target=tokenizer.label_token_id(example.label),
        )
        rest = render_outputs(task, example) if evaluation_block else ""
        if rest:
            eos = [] if tokenizer.eos_id is None else [tokenizer.eos_id]
            item.tail = [*_label_rest(tokenizer, example.label), *tokenizer.encode(rest), *eos]
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


def _label_rest(tokenizer: JudgeTokenizer, label: str) -> list[int]:
    """A label's tokens after its first (the one the judge reads), as the label encodes in
    context after the prompt's ':': a pretrained tokenizer's " tie" may be "Ġt" + "ie", and the
    EVALUATION block trained must spell it whole. Empty for Ember's one-token labels."""
    prefix, target = tokenizer.encode(":"), render_target(label)
    ids = tokenizer.encode(":" + target)
    ids = ids[len(prefix) :] if ids[: len(prefix)] == prefix else tokenizer.encode(target)
    return ids[1:] if ids and ids[0] == tokenizer.label_token_id(label) else []


def _free_text_item(
    task: Task, example: Example, tokenizer: JudgeTokenizer, max_len: int
) -> EncodedItem | None:
    """An open-ended (a critique, a correction) or real-valued pointwise example (its value
    rendered as text, e.g. " 3.5") as the EVALUATION block it renders: its first token in the
    verdict's place (weighted like a verdict), the rest and EOS as the tail."""
    value = " ".join((example.label or "").split())  # one line, as parse_evaluation reads it
    text = (render_target(value) if value else "") + render_outputs(task, example)
    ids = tokenizer.encode(text) if text.strip() else []
    if not ids:
        return None
    eos = [] if tokenizer.eos_id is None else [tokenizer.eos_id]
    rest = [*ids[1:], *eos]
    prompt = encode_prompt(tokenizer, task, example, max_len)
    return EncodedItem(task=task.name, prompt=prompt, target=ids[0], tail=rest or None)


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

    def _rows(self, item: EncodedItem) -> list[tuple[list[int], int, list[int] | None]]:
        config = self.config
        prompt, swapped_prompt = item.prompt, item.swapped_prompt
        if item.noref_prompt is not None and self.ref_rng.random() < config.reference_drop:
            prompt, swapped_prompt = item.noref_prompt, item.noref_swapped_prompt
        original = (prompt, item.target, item.tail)
        if swapped_prompt is None:
            return [original]
        swapped = (swapped_prompt, item.swapped_target, None)
        if config.pair_both_orders:
            return [original, swapped] if self.swap_rng.random() < 0.5 else [swapped, original]
        if self.swap_rng.random() < config.swap_probability:
            return [swapped]
        return [original]

    def next_batch(self) -> Batch:
        """The next `config.batch_size` rows, padded to their bucketed length (host arrays).

        A row with a tail holds prompt + verdict token + tail (cut at max_len); its `last` is
        still the prompt's last position, where the verdict is predicted."""
        size = self.config.batch_size
        seqs: list[list[int]] = []
        targets: list[int] = []
        lasts: list[int] = []
        while len(seqs) < size:
            rows = self._rows(self.items[next(self.stream)])[: size - len(seqs)]
            for prompt, target, tail in rows:
                lasts.append(len(prompt) - 1)
                seqs.append([*prompt, target, *tail][: self.config.max_len] if tail else prompt)
                targets.append(target)
        length = bucket_length(max(len(s) for s in seqs), self.config.max_len)
        tokens, mask, _ = pad_batch(seqs, self.pad_id, length, size)
        last = np.asarray(lasts, np.int32)
        return Batch(tokens=tokens, mask=mask, last=last, targets=np.asarray(targets, np.int32))

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
