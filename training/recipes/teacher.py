"""The teacher recipe's data: AlpacaEval LLM-judge pairs (alpaca-eval-judgments), a subsample
of whole instructions, each pair swapped with probability 1/2; with explanations, the records
whose judge gave a rationale become verdict + explanation examples (training/recipes/rationales.py
rewrites the judge's letters to the positions shown)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from judging.converters import convert
from judging.task_format import Example, Task, swap_pairwise
from training.recipes.data import TEACHER_LICENSE, TEACHER_SOURCE, prompt_key
from training.recipes.rationales import letter_positions, rewrite_rationale

TEACHER_TASK = "alpaca-eval-judgments/preference-llm-judge"
# The teacher records whose judge gave a rationale, trained on the verdict and the rationale.
TEACHER_COT_TASK = "alpaca-eval-judgments/preference-llm-judge-cot"
TEACHER_TASKS = (TEACHER_TASK, TEACHER_COT_TASK)


def cot_task(task: Task) -> Task:
    """The teacher task with the judge's rationale after the verdict: its own name (mixtures and
    reports keep it apart), output fields ("choice", "explanation")."""
    return dataclasses.replace(
        task,
        name=TEACHER_COT_TASK,
        title=task.title.replace("(LLM-judge labels)", "(LLM-judge labels and rationales)"),
        description=task.description
        + " Then explain the verdict in a few sentences, naming the responses A and B.",
        output_fields=(task.label_field, "explanation"),
    )


def _draw(by_instruction: Mapping[str, list[Example]], limit: int | None, rng: random.Random):
    """A random subsample of at most `limit` (None: all) in which every instruction
    contributes, so the split by instruction is balanced."""
    keys = sorted(by_instruction)
    rng.shuffle(keys)
    if limit is None:
        return [e for key in keys for e in by_instruction[key]]
    per_instruction = max(1, limit // max(len(keys), 1))
    chosen: list[Example] = []
    for key in keys:
        rows = by_instruction[key]
        chosen.extend(rng.sample(rows, min(per_instruction, len(rows))))
    return chosen[:limit] if len(chosen) > limit else chosen


def _with_rationale(example: Example, swapped: bool) -> Example | None:
    """The (possibly swapped) teacher example as a CoT example whose explanation names the
    positions it shows, or None when its rationale cannot be rewritten unambiguously."""
    letters = letter_positions(example.provenance.get("explanation_labels"), swapped)
    if letters is None:
        return None
    text = rewrite_rationale(example.provenance["explanation"], letters)
    if not text or not text.strip():
        return None
    return dataclasses.replace(example, task=TEACHER_COT_TASK, outputs={"explanation": text})


def teacher_examples(
    data_root: Path,
    limit: int,
    seed: int,
    scan: int | None = None,
    explanations: bool = False,
    explained_limit: int | None = None,
) -> tuple[dict[str, Task], list[Example], dict[str, Any]]:
    """LLM-judge pairs of alpaca-eval-judgments: a random subsample of whole instructions,
    each pair swapped with probability 1/2 (deterministic per id).

    With `explanations`, the records whose judge gave a rationale are drawn apart (up to
    `explained_limit`, None: all of them) and become examples of TEACHER_COT_TASK whose
    `outputs["explanation"]` is the rationale with the judge's model letters rewritten to the
    positions A / B the answers have after the swap (training/recipes/rationales.py); a
    rationale that cannot be rewritten unambiguously leaves its record a verdict-only
    TEACHER_TASK example (counted in the info)."""
    found, stream = convert(TEACHER_SOURCE, [data_root / TEACHER_SOURCE])
    task = found[TEACHER_TASK]
    by_instruction: dict[str, list[Example]] = {}
    explained: dict[str, list[Example]] = {}
    for example in itertools.islice(stream, scan):
        if example.task != TEACHER_TASK or example.label not in task.labels:
            continue
        rationale = example.provenance.get("explanation")
        pool = explained if explanations and isinstance(rationale, str) else by_instruction
        pool.setdefault(prompt_key(task, example), []).append(example)
    chosen = _draw(by_instruction, limit, random.Random(seed))
    chosen_cot = _draw(explained, explained_limit, random.Random(f"{seed}:explained"))
    swapped: list[Example] = []
    unrewritable = flips = 0
    for example in [*chosen, *chosen_cot]:
        flip = bool(hashlib.sha256(f"{seed}:{example.id}".encode()).digest()[0] & 1)
        flips += flip
        shown = swap_pairwise(example) if flip else example
        if example.provenance.get("explanation") is not None and explanations:
            with_rationale = _with_rationale(shown, flip)
            unrewritable += with_rationale is None
            shown = with_rationale or shown
        swapped.append(shown)
    cot = sum(e.task == TEACHER_COT_TASK for e in swapped)
    tasks = {TEACHER_TASK: task}
    if cot:
        tasks[TEACHER_COT_TASK] = cot_task(task)
    info = {
        "license": TEACHER_LICENSE,
        "tasks": sorted(tasks),
        "instructions": len(set(by_instruction) | set(explained)),
        "examples": len(swapped),
        "swapped": flips,
        "explanations": explanations,
        "with_explanation": cot,
        "explanation_unrewritable": unrewritable,
    }
    return tasks, swapped, info
