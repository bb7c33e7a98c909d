"""Self-Taught Evaluator pairs (arXiv 2408.02666): synthetic preference pairs whose label is
known by construction, made from labelled pairwise examples.

Pairs: for each instruction x with a good response y_w, the worse response y_l is a good
response to a similar but different instruction x' (the paper has an LLM write x' and answer
it; with no large generator here, x' is drawn from the most similar other instructions of the
same task in the pool, by TF-IDF cosine over words, and y_l is its good response). The
pool's instructions and good responses come from labelled pairwise examples (the preferred
response of each). y_w is better than y_l for x by construction. Finer kinds: perturbed pairs
(one sentence of y_w replaced by one of y_l) and tie pairs (y_w against a copy of itself).

The rounds that filter these pairs with the current judge and retrain it are in
training/variants/self_taught.py; the public-data recipe (training/recipes/) uses the pairs
directly.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    ContextValue,
    Example,
    Task,
    TaskType,
    render_value,
)

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclasses.dataclass(frozen=True)
class Instruction:
    """An instruction (a pairwise task's non-response context) and a good response to it."""

    task: str
    context: dict[str, ContextValue]
    response: ContextValue
    id: str
    reference: str | None = None  # the instruction's reference answer, when its task has one

    @property
    def text(self) -> str:
        return "\n".join(render_value(value) for value in self.context.values())


def instruction_pool(tasks: Mapping[str, Task], examples: Sequence[Example]) -> list[Instruction]:
    """One Instruction per distinct (task, instruction, preferred response) of the labelled
    pairwise examples (A or B preferred; ties skipped): the preferred response is the good one."""
    pool: dict[tuple[str, str], Instruction] = {}
    for index, example in enumerate(examples):
        task = tasks.get(example.task)
        if task is None or task.type is not TaskType.PAIRWISE or example.label not in ("A", "B"):
            continue
        context = {k: v for k, v in example.context.items() if k not in (RESPONSE_A, RESPONSE_B)}
        response = example.context[RESPONSE_A if example.label == "A" else RESPONSE_B]
        item = Instruction(
            task.name, context, response, example.id or f"example-{index}", example.reference
        )
        pool.setdefault((task.name, item.text, render_value(response)), item)
    return list(pool.values())


def tfidf_matrix(texts: Sequence[str]) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows over lower-cased words (smooth idf, as scikit-learn's)."""
    docs = [Counter(_WORD.findall(text.lower())) for text in texts]
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for row, counts in enumerate(docs):
        for word, count in counts.items():
            rows.append(row)
            cols.append(vocab.setdefault(word, len(vocab)))
            vals.append(float(count))
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), max(len(vocab), 1)))
    df = np.bincount(cols, minlength=matrix.shape[1]) if cols else np.zeros(1)
    idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    matrix = matrix @ sparse.diags(idf)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def similar_instructions(
    pool: Sequence[Instruction],
    top_k: int = 5,
    *,
    margin: float = 0.05,
    max_candidates: int = 64,
    seed: int = 0,
) -> list[list[int]]:
    """For each instruction, the indices of the most similar *different* instructions of the
    same task (different text and a different good response): the `top_k` most similar, and
    every other one within `margin` of the best similarity (at most `max_candidates`, drawn
    at random).

    Equal similarities are ordered at random (seeded): with a fixed order, templated
    instructions that are all equally similar would always borrow the same few responses, and
    the judge could learn those responses instead of the instruction."""
    rng = np.random.default_rng(seed)
    neighbours: list[list[int]] = [[] for _ in pool]
    by_task: dict[str, list[int]] = {}
    for index, item in enumerate(pool):
        by_task.setdefault(item.task, []).append(index)
    for members in by_task.values():
        ids = np.asarray(members)
        texts = [pool[i].text for i in members]
        text_ids = _ids(texts)
        response_ids = _ids(json.dumps(pool[i].response, sort_keys=True) for i in members)
        matrix = tfidf_matrix(texts)
        for start in range(0, len(members), 512):
            block = (matrix[start : start + 512] @ matrix.T).toarray()
            for offset, row in enumerate(block):
                me = start + offset
                valid = (text_ids != text_ids[me]) & (response_ids != response_ids[me])
                if not valid.any():
                    continue
                sims = np.where(valid, row, -np.inf)
                # Random order among equal similarities, then most similar first.
                shuffled = rng.permutation(len(members))
                order = shuffled[np.argsort(-sims[shuffled], kind="stable")]
                order = order[np.isfinite(sims[order])]
                band = order[sims[order] >= sims[order[0]] - margin]
                if len(band) < top_k:
                    band = order[:top_k]
                elif len(band) > max_candidates:
                    band = rng.choice(band, max_candidates, replace=False)
                neighbours[members[me]] = ids[band].tolist()
    return neighbours


def _ids(values: Iterable[str]) -> np.ndarray:
    seen: dict[str, int] = {}
    return np.asarray([seen.setdefault(value, len(seen)) for value in values])


def _pair(
    item: Instruction,
    worse: ContextValue,
    rng: random.Random,
    pair_id: str,
    provenance: dict[str, Any],
    *,
    tie: bool = False,
) -> Example:
    """The instruction's good response against `worse`, in a random order (its reference
    kept); the label names the good one, or is "tie" when `worse` is as good (`tie`)."""
    good_first = rng.random() < 0.5
    first, second = (item.response, worse) if good_first else (worse, item.response)
    return Example(
        task=item.task,
        context={**item.context, RESPONSE_A: first, RESPONSE_B: second},
        label="tie" if tie else "A" if good_first else "B",
        reference=item.reference,
        id=pair_id,
        provenance=provenance,
    )


def _contrasts(
    pool: Sequence[Instruction],
    make: Callable[[Instruction, Instruction, random.Random, int], Example | None],
    *,
    top_k: int,
    seed: int,
    max_pairs: int | None,
) -> list[Example]:
    """For each instruction in a random order (that has a similar other instruction): one
    similar instruction drawn at random and `make(item, other, rng, n_made)`, which returns
    a pair or None (nothing to make from these two)."""
    rng = random.Random(seed)
    neighbours = similar_instructions(pool, top_k, seed=seed)
    order = list(range(len(pool)))
    rng.shuffle(order)
    pairs: list[Example] = []
    for index in order:
        if not neighbours[index]:
            continue
        pair = make(pool[index], pool[rng.choice(neighbours[index])], rng, len(pairs))
        if pair is None:
            continue
        pairs.append(pair)
        if max_pairs is not None and len(pairs) >= max_pairs:
            break
    return pairs


def synthesize_pairs(
    pool: Sequence[Instruction], *, top_k: int = 5, seed: int = 0, max_pairs: int | None = None
) -> list[Example]:
    """One pair per instruction (that has a similar other instruction): the good response vs
    the good response of a similar instruction, in a random order; label = the good one."""

    def make(item: Instruction, other: Instruction, rng: random.Random, n: int) -> Example:
        return _pair(
            item,
            other.response,
            rng,
            f"self-taught-{seed}-{n:06d}",
            {"source": "self-taught", "instruction": item.id, "worse_from": other.id},
        )

    return _contrasts(pool, make, top_k=top_k, seed=seed, max_pairs=max_pairs)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text.strip()) if part]


def perturbed_pairs(
    pool: Sequence[Instruction], *, top_k: int = 5, seed: int = 0, max_pairs: int | None = None
) -> list[Example]:
    """Finer contrasting pairs: the worse response is the good response itself with one of its
    sentences (the first or the last, which survive head-and-tail trimming) replaced by a
    sentence of a similar instruction's good response. The two differ only in that sentence,
    which is off-topic for this instruction (and unsupported by its reference), so length and
    style cannot decide them. Text responses of >= 2 sentences only."""

    def make(item: Instruction, other: Instruction, rng: random.Random, n: int) -> Example | None:
        if not isinstance(item.response, str) or not isinstance(other.response, str):
            return None
        own = sentences(item.response)
        foreign = [s for s in sentences(other.response) if s not in own]
        if len(own) < 2 or not foreign:
            return None
        slot = rng.choice((0, len(own) - 1))
        # Replace the sentence in place: the rest, whitespace included, stays identical.
        before, _, after = (
            item.response.partition(own[0]) if slot == 0 else item.response.rpartition(own[-1])
        )
        return _pair(
            item,
            before + rng.choice(foreign) + after,
            rng,
            f"self-taught-perturbed-{seed}-{n:06d}",
            {
                "source": "self-taught-perturbed",
                "instruction": item.id,
                "sentence_from": other.id,
                "replaced_sentence": slot,
            },
        )

    return _contrasts(pool, make, top_k=top_k, seed=seed, max_pairs=max_pairs)


_COMMA = re.compile(r",(?= )")
_WORD_GAP = re.compile(r"(?<=\w) (?=\w)")


def _punctuation_variant(text: str, rng: random.Random) -> str:
    """`text` with one comma removed (when it has one, half the time) or one added after a
    word in its middle: the same words, saying the same thing."""
    commas = [m.start() for m in _COMMA.finditer(text)]
    if commas and rng.random() < 0.5:
        at = rng.choice(commas)
        return text[:at] + text[at + 1 :]
    spaces = [m.start() for m in _WORD_GAP.finditer(text)]
    if not spaces:
        return text
    at = rng.choice(spaces[len(spaces) // 4 : max(len(spaces) * 3 // 4, 1)])
    return text[:at] + "," + text[at:]


def tie_pairs(
    pool: Sequence[Instruction], *, seed: int = 0, max_pairs: int | None = None
) -> list[Example]:
    """Pairs whose two responses say the same thing, labelled "tie" by construction: an
    instruction's good response against a copy of itself, verbatim or with one comma removed
    or added (on a random side), so the judge sees pairs where neither response is better.
    People mostly call near-identical answers a tie (qa-feedback: 57 % of the pairs with >= 0.9
    word-sequence similarity). Text responses only."""
    rng = random.Random(seed)
    order = list(range(len(pool)))
    rng.shuffle(order)
    pairs: list[Example] = []
    for index in order:
        item = pool[index]
        if not isinstance(item.response, str):
            continue
        copy = item.response if rng.random() < 0.5 else _punctuation_variant(item.response, rng)
        pairs.append(
            _pair(
                item,
                copy,
                rng,
                f"self-taught-tie-{seed}-{len(pairs):06d}",
                {
                    "source": "self-taught-tie",
                    "instruction": item.id,
                    "edit": "none" if copy == item.response else "comma",
                },
                tie=True,
            )
        )
        if max_pairs is not None and len(pairs) >= max_pairs:
            break
    return pairs
