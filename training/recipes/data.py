"""The recipes' data: the permissively licensed human-labelled sets of shared/data converted
and split by prompt, their texts fitted to the model's window, and the Self-Taught examples
(the teacher's LLM-judge examples: training/recipes/teacher.py).

Contexts are fitted to the model's window before training and judging (`fit_example`): long
background fields (passages, stories, documents) keep their head, judged responses keep head and
tail, conversations keep their last turns, so both responses of a pair are always visible. The
baselines see the original, untrimmed texts (the length rules use the true lengths).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from judging.converters import convert
from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    ContextValue,
    Example,
    Task,
    TaskType,
    render_prompt,
    render_value,
)
from training.recipes.profiles import Profile

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

# Permissively licensed human-labelled sets (MANIFEST.md) -> licence.
HUMAN_SOURCES: dict[str, str] = {
    "qa-feedback": "Apache-2.0 (passages: Wikipedia CC BY-SA)",
    "summedits": "Apache-2.0",
    "factcc-explanations": "Apache-2.0",
    "roscoe": "MIT",
    "dices": "CC BY 4.0",
    "squality-human-eval": "CC BY 4.0 (stories: Project Gutenberg licence)",
    "novikova2017-nlg-eval": "MIT",
}
# Sets in shared/data the default recipe leaves out, and why.
EXCLUDED_SOURCES: dict[str, str] = {
    "usr-topical-chat": "licence of the original USR release unverified (MANIFEST); "
    "real-valued scales only",
    "fastchat-llm-judge": "no human labels (prompts and GPT-4 references only)",
    "alpaca-eval-judgments": "LLM-judge labels, CC BY-NC 4.0: teacher recipe only",
}
# The teacher (LLM-judge) set: its examples are drawn in training/recipes/teacher.py.
TEACHER_SOURCE = "alpaca-eval-judgments"
TEACHER_LICENSE = "CC BY-NC 4.0 (labels by GPT-4-family / Claude v1 judges)"

SELF_TAUGHT_PREFIX = "self-taught/"

# Context fields that hold the judged text (head and tail kept); others are background.
JUDGED_FIELDS = {
    RESPONSE_A,
    RESPONSE_B,
    "response",
    "summary",
    "explanation",
    "utterance",
    "step",
    "generated response",
    "marked span",
    "missing information",
    "highlighted span",
}

SPLITS = ("train", "dev", "test")


def load_sources(
    data_root: Path, folders: Sequence[str]
) -> tuple[dict[str, Task], list[Example], dict[str, dict[str, Any]]]:
    """Convert each folder; keep tasks with a closed label set (not open-ended, not real-valued)
    and labelled examples. Returns (tasks, examples, {folder: {licence, tasks, examples}})."""
    tasks: dict[str, Task] = {}
    examples: list[Example] = []
    info: dict[str, dict[str, Any]] = {}
    for folder in folders:
        found, stream = convert(folder, [data_root / folder])
        kept = {n: t for n, t in found.items() if t.type is not TaskType.OPEN_ENDED and t.labels}
        rows = [e for e in stream if e.task in kept and e.label in kept[e.task].labels]
        rows = [e for e in rows if e.provenance.get("label_source") != "llm-judge"]
        tasks.update(kept)
        examples.extend(rows)
        info[folder] = {
            "license": HUMAN_SOURCES.get(folder, TEACHER_LICENSE),
            "tasks": sorted(kept),
            "skipped_tasks": sorted(set(found) - set(kept)),
            "examples": len(rows),
        }
    return tasks, examples, info


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def prompt_key(task: Task, example: Example) -> str:
    """What defines "the same prompt": the first context field that is not a judged response
    (question, passage story, document, conversation, problem, meaning representation,
    instruction), normalised. Tasks of one dataset sharing a prompt share its split."""
    for field in task.context_fields:
        if field not in JUDGED_FIELDS:
            return _normalise(render_value(example.context.get(field, "")))
    return _normalise(render_value(example.context.get(task.context_fields[0], "")))


def split_of(key: str, test_percent: int, dev_percent: int) -> str:
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + dev_percent:
        return "dev"
    return "train"


def split_examples(
    tasks: Mapping[str, Task], examples: Sequence[Example], test_percent: int, dev_percent: int
) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for example in examples:
        key = prompt_key(tasks[example.task], example)
        out[split_of(key, test_percent, dev_percent)].append(example)
    return out


def _trim_text(text: str, limit: int, keep_tail: bool) -> str:
    if len(text) <= limit:
        return text
    if not keep_tail:
        return text[:limit].rstrip() + " ..."
    head = (limit * 2) // 3
    return text[:head].rstrip() + " ... " + text[-(limit - head) :].lstrip()


def _window_text(text: str, limit: int, rng: random.Random) -> str:
    """A random window of `limit` characters, starting at a word, marked where it cuts."""
    if len(text) <= limit:
        return text
    start = rng.randrange(len(text) - limit + 1)
    if start:
        space = text.find(" ", start, start + 40)
        start = start if space < 0 else space + 1
    end = start + limit
    piece = text[start:end].strip()
    return ("... " if start else "") + piece + (" ..." if end < len(text) else "")


def _trim_value(
    value: ContextValue, limit: int, keep_tail: bool, rng: random.Random | None = None
) -> ContextValue:
    if isinstance(value, str):
        if rng is not None:
            return _window_text(value, limit, rng)
        return _trim_text(value, limit, keep_tail)
    kept: list[dict[str, str]] = []
    used = 0
    for turn in reversed(value):  # a conversation keeps its last turns
        room = limit - used
        if room <= 40:
            break
        content = turn["content"]
        if len(content) > room:
            content = "... " + content[-room:]
        kept.append({"role": turn["role"], "content": content})
        used += len(content) + len(turn["role"]) + 2
    return list(reversed(kept))


def _judged_budgets(
    example: Example,
    background: Mapping[str, ContextValue],
    reference: str | None,
    profile: Profile,
) -> dict[str, int]:
    """Characters per judged field. Without `prompt_chars`: `judged_chars` each. With it: the
    characters the background fields, the reference and the field names leave of
    `prompt_chars`, shared equally by the judged fields, a short field's unused share going to
    the others (at least `judged_chars` each)."""
    judged = [f for f in example.context if f in JUDGED_FIELDS]
    if profile.prompt_chars is None:
        return dict.fromkeys(judged, profile.judged_chars)
    used = sum(len(render_value(v)) + len(f) + 3 for f, v in background.items())
    used += len(reference) + 12 if reference else 0
    used += sum(len(f) + 3 for f in judged)
    room = profile.prompt_chars - used
    budgets: dict[str, int] = {}
    lengths = {f: len(render_value(example.context[f])) for f in judged}
    pending = sorted(judged, key=lengths.__getitem__)  # shortest first: water-filling
    while pending:
        share = max(profile.judged_chars, room // len(pending))
        field = pending.pop(0)
        budgets[field] = share
        room -= min(lengths[field], share)
    return budgets


def fit_example(task: Task, example: Example, profile: Profile, view: int = 0) -> Example:
    """The example with each context field trimmed to the profile's character budget: background
    fields to `context_chars` (head kept), the reference to `reference_chars`, judged fields
    (head and tail kept) to their share of the window (`_judged_budgets`). `view` > 0: judged
    text fields are random windows of that share instead (a training augmentation, seeded by
    the example and the view)."""
    rng = random.Random(f"{example.id}:{view}") if view else None
    background = {
        field: _trim_value(value, profile.context_chars, keep_tail=False)
        for field, value in example.context.items()
        if field not in JUDGED_FIELDS
    }
    reference = example.reference
    if reference:
        reference = _trim_text(reference, profile.reference_chars, keep_tail=False)
    budgets = _judged_budgets(example, background, reference, profile)
    context = {
        field: background[field]
        if field in background
        else _trim_value(value, budgets[field], keep_tail=True, rng=rng)
        for field, value in example.context.items()
    }
    return dataclasses.replace(example, context=context, reference=reference)


def fit_to_window(
    task: Task,
    example: Example,
    profile: Profile,
    count_tokens: Callable[[str], int],
    window: int,
    view: int = 0,
) -> Example:
    """`fit_example`, then, with `prompt_chars` set, the judged fields shrunk until the prompt
    is at most `window` tokens (`count_tokens` of the rendered prompt), so nothing is cut from
    its start (the instructions)."""
    fitted = fit_example(task, example, profile, view)
    budget = profile.prompt_chars
    if budget is None:  # fixed character budgets: nothing to measure
        return fitted
    for _ in range(8):
        prompt = render_prompt(task, fitted)
        tokens = count_tokens(prompt)
        if tokens <= window:
            break
        budget -= (tokens - window) * len(prompt) // tokens + 16
        fitted = fit_example(task, example, dataclasses.replace(profile, prompt_chars=budget), view)
    return fitted


def fit_leaving_room(
    task: Task,
    example: Example,
    profile: Profile,
    count_tokens: Callable[[str], int],
    window: int,
    room: int,
    view: int = 0,
) -> Example:
    """`fit_to_window` into `window - room` tokens, leaving `room` for what follows the prompt
    (the verdict, an explanation, EOS). Without `prompt_chars` (fixed character budgets) and
    when the floor `judged_chars` does not let it fit, the character budgets are scaled down
    until the prompt fits. `room` 0 is `fit_to_window` itself."""
    limit = window - room
    fitted = fit_to_window(task, example, profile, count_tokens, limit, view)
    if not room:
        return fitted
    for _ in range(8):
        tokens = count_tokens(render_prompt(task, fitted))
        if tokens <= limit:
            break
        scale = limit / tokens
        profile = dataclasses.replace(
            profile,
            judged_chars=max(16, int(profile.judged_chars * scale) - 8),
            context_chars=max(16, int(profile.context_chars * scale) - 8),
            reference_chars=max(16, int(profile.reference_chars * scale) - 8),
            prompt_chars=None
            if profile.prompt_chars is None
            else max(64, int(profile.prompt_chars * scale)),
        )
        fitted = fit_to_window(task, example, profile, count_tokens, limit, view)
    return fitted


def training_views(
    task: Task,
    example: Example,
    profile: Profile,
    count_tokens: Callable[[str], int],
    window: int,
    room: int = 0,
) -> list[Example]:
    """The example's `profile.train_views` distinct fitted views (fewer when its judged fields
    are short enough that the views coincide); `room`: tokens left free after the prompt
    (`fit_leaving_room`), for an example trained on the output fields after its verdict."""
    if profile.train_views == 1:
        return [fit_leaving_room(task, example, profile, count_tokens, window, room)]
    views: dict[str, Example] = {}
    for view in range(profile.train_views):
        fitted = fit_leaving_room(task, example, profile, count_tokens, window, room, view)
        views.setdefault(json.dumps(fitted.context, sort_keys=True, default=str), fitted)
    return list(views.values())


def subsample(examples: Sequence[Example], limit: int | None, seed: str) -> list[Example]:
    if limit is None or len(examples) <= limit:
        return list(examples)
    return random.Random(seed).sample(list(examples), limit)


def by_task(examples: Sequence[Example]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {}
    for example in examples:
        out.setdefault(example.task, []).append(example)
    return out


def self_taught_examples(
    tasks: Mapping[str, Task],
    train: Sequence[Example],
    per_task: int,
    top_k: int,
    seed: int,
    perturbed_per_task: int = 0,
    tie_per_task: int = 0,
) -> tuple[dict[str, Task], list[Example]]:
    """Self-Taught pairs (good response vs a similar instruction's good response, and, with
    `perturbed_per_task`, good response vs itself with one sentence taken from a similar
    instruction's; with `tie_per_task`, on tasks with a "tie" label, good response vs a copy
    of itself, labelled tie) built from the training split's human pairwise items only, as
    tasks `self-taught/<task>` that render exactly like their source task."""
    from training.variants.self_taught_pairs import (
        instruction_pool,
        perturbed_pairs,
        synthesize_pairs,
        tie_pairs,
    )

    new_tasks: dict[str, Task] = {}
    pairs: list[Example] = []
    for name, rows in sorted(by_task(train).items()):
        task = tasks[name]
        if task.type is not TaskType.PAIRWISE:
            continue
        pool = instruction_pool({name: task}, rows)
        if len(pool) < 2:
            continue
        made = synthesize_pairs(pool, top_k=top_k, seed=seed, max_pairs=per_task)
        if perturbed_per_task:
            made += perturbed_pairs(pool, top_k=top_k, seed=seed, max_pairs=perturbed_per_task)
        if tie_per_task and "tie" in task.labels:
            made += tie_pairs(pool, seed=seed, max_pairs=tie_per_task)
        renamed = SELF_TAUGHT_PREFIX + name
        new_tasks[renamed] = dataclasses.replace(task, name=renamed)
        pairs.extend(dataclasses.replace(p, task=renamed) for p in made)
    return new_tasks, pairs
