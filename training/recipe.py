"""The end-to-end autorater recipes: `python -m training recipe default|teacher --out DIR`.

default: every permissively licensed human-labelled set in shared/data, converted, split by
  prompt/document (train / dev / test: no prompt in two splits), plus the known-answer demo
  tasks (judging/demo_tasks.py) and Self-Taught synthetic pairs (training/self_taught.py) made
  from the training split's pairwise items only, mixed FLAMe-style (examples-proportional with a
  per-task cap, pairwise tasks up-weighted), trained, and evaluated on the held-out test split
  against the length baselines and a TF-IDF + logistic-regression baseline trained on the same
  training split.
teacher: the same plus the LLM-judge (GPT-4 family) labels of alpaca-eval-judgments (JudgeLM-
  style distillation, CC BY-NC 4.0): randomly swapped (upstream always puts the reference
  answer first), split by instruction; its held-out teacher items are reported apart, and the
  human held-out numbers are on the same test split as the default recipe's.

Contexts are fitted to the model's window before training and judging (`fit_example`): long
background fields (passages, stories, documents) keep their head, judged responses keep head and
tail, conversations keep their last turns, so both responses of a pair are always visible. The
baselines see the original, untrimmed texts (the length rules use the true lengths).

Outputs under OUT: model/ (the judge checkpoint), report/ (report.json with every number and
pictures), recipe.json (data, licences, splits, config, timings), model_card.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation import metrics as M
from evaluation.baselines import (
    baseline_judges,
    expected_random_accuracy,
    response_length,
)
from judging.converters import convert
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    ContextValue,
    Example,
    Task,
    TaskType,
    render_prompt,
    render_value,
    swap_pairwise,
)
from training.config import TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

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
TEACHER_SOURCE = "alpaca-eval-judgments"
TEACHER_TASK = "alpaca-eval-judgments/preference-llm-judge"
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


@dataclasses.dataclass(frozen=True)
class Profile:
    """Everything a recipe run needs besides its data folder."""

    name: str
    train: dict[str, Any]  # TrainConfig fields
    judged_chars: int = 450  # per judged field (responses); the floor when prompt_chars is set
    # Characters of the whole context block; judged fields share what the others leave of it.
    prompt_chars: int | None = None
    context_chars: int = 350  # per background field (passages, documents, stories)
    reference_chars: int = 300
    max_train_per_task: int | None = None  # subsample of each task's training items
    max_eval_per_task: int | None = None  # held-out items per non-pairwise task
    max_eval_pairwise: int | None = None  # held-out items per pairwise task
    demo_per_task: int = 1500
    self_taught_per_task: int = 1000
    # Sentence-level contrasting pairs per pairwise task (self_taught.perturbed_pairs).
    perturbed_per_task: int = 0
    # Near-identical pairs labelled "tie" per pairwise task that has a tie label
    # (self_taught.tie_pairs).
    tie_per_task: int = 0
    self_taught_top_k: int = 5
    # Training views per example: view 0 trims judged fields to head and tail (as judged);
    # views 1.. show each long judged field as a different random window of the same size,
    # so the judge reads more of long responses than one fixed cut and cannot memorise it.
    train_views: int = 1
    pairwise_boost: float = 3.0  # mixture weight multiplier of human pairwise tasks
    self_taught_weight: float = 1.0  # multiplier of each self-taught task's weight
    teacher_examples: int = 6000  # LLM-judge items drawn for the teacher recipe
    teacher_scan: int | None = None  # read only the first N teacher records (tests)
    teacher_weight: float = 1.0
    bootstrap: int = 1000
    bias: bool = True
    test_percent: int = 20
    dev_percent: int = 10
    budget_minutes: float = 60.0


_TINY_WIDE = {"d_model": 96, "n_layers": 4, "n_heads": 4, "n_kv_heads": 2, "d_ff": 384}

PROFILES: dict[str, Profile] = {
    # Development: minutes on 2 CPU cores.
    "quick": Profile(
        name="quick",
        train=dict(
            model_size="tiny",
            model_overrides=_TINY_WIDE,
            steps=300,
            batch_size=16,
            learning_rate=2e-3,
            warmup_steps=30,
            max_len=384,
            vocab_size=2048,
            per_task_cap=1000,
            log_every=25,
            checkpoint_every=0,
        ),
        judged_chars=350,
        context_chars=200,
        reference_chars=200,
        max_train_per_task=400,
        max_eval_per_task=60,
        max_eval_pairwise=150,
        demo_per_task=300,
        self_taught_per_task=200,
        teacher_examples=600,
        bootstrap=200,
        bias=False,
        budget_minutes=5,
    ),
    # The one-hour CPU recipe, sized on the 2-core machine: ~0.6-0.9 CPU-seconds per step
    # (tiny model, 32 rows of <= 256 tokens), so ~30 min of training on an idle machine.
    "default": Profile(
        name="default",
        train=dict(
            model_size="tiny",
            steps=2400,
            batch_size=32,
            learning_rate=3e-3,
            warmup_steps=100,
            max_len=320,
            vocab_size=4096,
            per_task_cap=1000,
            log_every=50,
            checkpoint_every=400,
        ),
        judged_chars=280,
        context_chars=120,
        reference_chars=120,
        max_eval_per_task=300,
        demo_per_task=1500,
        self_taught_per_task=800,
        pairwise_boost=4.0,
        bootstrap=1000,
        budget_minutes=60,
    ),
    # One GPU, 30 minutes: the ~10M-parameter "small" model, longer contexts, more steps.
    "accelerator": Profile(
        name="accelerator",
        train=dict(
            model_size="small",
            steps=12000,
            batch_size=64,
            learning_rate=3e-4,
            warmup_steps=500,
            dropout=0.05,
            max_len=1024,
            vocab_size=8192,
            per_task_cap=4000,
            log_every=100,
            checkpoint_every=1000,
        ),
        judged_chars=200,
        prompt_chars=3600,  # fit_to_window then trims each prompt to 1,024 tokens exactly
        context_chars=1200,
        reference_chars=600,
        demo_per_task=4000,
        self_taught_per_task=3000,
        teacher_examples=30000,
        budget_minutes=30,
    ),
}


# --- data ---------------------------------------------------------------------------------------


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


def training_views(
    task: Task,
    example: Example,
    profile: Profile,
    count_tokens: Callable[[str], int],
    window: int,
) -> list[Example]:
    """The example's `profile.train_views` distinct fitted views (fewer when its judged fields
    are short enough that the views coincide)."""
    if profile.train_views == 1:
        return [fit_to_window(task, example, profile, count_tokens, window)]
    views: dict[str, Example] = {}
    for view in range(profile.train_views):
        fitted = fit_to_window(task, example, profile, count_tokens, window, view)
        views.setdefault(json.dumps(fitted.context, sort_keys=True, default=str), fitted)
    return list(views.values())


def _subsample(examples: Sequence[Example], limit: int | None, seed: str) -> list[Example]:
    if limit is None or len(examples) <= limit:
        return list(examples)
    return random.Random(seed).sample(list(examples), limit)


def _by_task(examples: Sequence[Example]) -> dict[str, list[Example]]:
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
    from training.self_taught import (
        instruction_pool,
        perturbed_pairs,
        synthesize_pairs,
        tie_pairs,
    )

    new_tasks: dict[str, Task] = {}
    pairs: list[Example] = []
    for name, rows in sorted(_by_task(train).items()):
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


def teacher_examples(
    data_root: Path, limit: int, seed: int, scan: int | None = None
) -> tuple[dict[str, Task], list[Example], dict[str, Any]]:
    """LLM-judge pairs of alpaca-eval-judgments: a random subsample of whole instructions,
    each pair swapped with probability 1/2 (deterministic per id)."""
    found, stream = convert(TEACHER_SOURCE, [data_root / TEACHER_SOURCE])
    task = found[TEACHER_TASK]
    by_instruction: dict[str, list[Example]] = {}
    for example in itertools.islice(stream, scan):
        if example.task != TEACHER_TASK or example.label not in task.labels:
            continue
        by_instruction.setdefault(prompt_key(task, example), []).append(example)
    rng = random.Random(seed)
    keys = sorted(by_instruction)
    rng.shuffle(keys)
    per_instruction = max(1, limit // max(len(keys), 1))
    chosen: list[Example] = []
    for key in keys:  # every instruction contributes, so the split by instruction is balanced
        rows = by_instruction[key]
        chosen.extend(rng.sample(rows, min(per_instruction, len(rows))))
    chosen = chosen[:limit] if len(chosen) > limit else chosen
    swapped = []
    for example in chosen:
        flip = hashlib.sha256(f"{seed}:{example.id}".encode()).digest()[0] & 1
        swapped.append(swap_pairwise(example) if flip else example)
    info = {
        "license": TEACHER_LICENSE,
        "tasks": [TEACHER_TASK],
        "instructions": len(keys),
        "examples": len(swapped),
        "swapped": sum(e is not c for e, c in zip(swapped, chosen, strict=True)),
    }
    return {TEACHER_TASK: task}, swapped, info


# --- evaluation ---------------------------------------------------------------------------------


def _pick(verdict) -> str | None:
    return verdict.label if verdict.valid else None


def _longer(example: Example) -> str | None:
    a, b = response_length(example, RESPONSE_A), response_length(example, RESPONSE_B)
    return None if a == b else ("A" if a > b else "B")


def pairwise_scores(
    examples: Sequence[Example], verdicts: Sequence[Any], n_boot: int, seed: int
) -> dict[str, Any]:
    """Accuracy on pairwise items (with CI), on the items where the longer response lost
    (gold is the shorter one) and where it won, their mean ("length-balanced": any length rule
    scores 0.5 on it), and both-order consistency. Lengths are the original texts'."""
    gold = [e.label for e in examples]
    pred = [_pick(v) for v in verdicts]
    longer = [_longer(e) for e in examples]
    lost = [
        i
        for i, e in enumerate(examples)
        if longer[i] and e.label in ("A", "B") and e.label != longer[i]
    ]
    won = [i for i, e in enumerate(examples) if longer[i] and e.label == longer[i]]

    def acc(idx: Sequence[int]) -> dict[str, Any]:
        return M.with_ci(
            M.accuracy,
            [gold[i] for i in idx],
            [pred[i] for i in idx],
            n_resamples=n_boot,
            seed=seed,
        )

    def balanced(g, p, flags):
        lost_hits = [t == q for t, q, f in zip(g, p, flags, strict=True) if f == "lost"]
        won_hits = [t == q for t, q, f in zip(g, p, flags, strict=True) if f == "won"]
        if not lost_hits or not won_hits:
            return None
        return (sum(lost_hits) / len(lost_hits) + sum(won_hits) / len(won_hits)) / 2

    flags = ["lost" if i in set(lost) else "won" for i in lost + won]
    idx = lost + won
    consistent = [v.consistent for v in verdicts if v.consistent is not None]
    return {
        "accuracy": acc(range(len(examples))),
        "longer_lost": acc(lost),
        "longer_won": acc(won),
        "length_balanced": M.with_ci(
            balanced,
            [gold[i] for i in idx],
            [pred[i] for i in idx],
            flags,
            n_resamples=n_boot,
            seed=seed,
        ),
        "consistency": sum(consistent) / len(consistent) if consistent else None,
    }


def _paired_difference(
    gold: Sequence[str], judge: Sequence[Any], other: Sequence[Any], n_boot: int, seed: int
) -> dict[str, Any]:
    """Judge accuracy minus `other`'s on the same items, with a paired bootstrap CI."""
    counts = [0, 0, 0, 0]
    for g, j, o in zip(gold, judge, other, strict=True):
        jr, orr = _pick(j) == g, _pick(o) == g
        counts[0 if jr and orr else 2 if jr else 1 if orr else 3] += 1
    both, only_other, only_judge, neither = counts
    return M.paired_accuracy_difference(
        both, only_other, only_judge, neither, n_resamples=n_boot, seed=seed
    )


def evaluate_recipe(
    judge,
    tasks: Mapping[str, Task],
    heldout: Sequence[Example],
    fitted: Sequence[Example],
    lexical,
    profile: Profile,
    seed: int = 0,
    judge_name: str = "judge",
) -> dict[str, Any]:
    """The judge (on the fitted texts) and every baseline (on the original texts) on the same
    held-out items: per task, pooled over the pairwise tasks, on the length-misleading items."""
    from evaluation.bias import run_bias_suite
    from evaluation.report import summarize

    n_boot = profile.bootstrap
    verdicts = {judge_name: judge.judge(tasks, list(fitted), both_orders=True)}
    baselines = {**baseline_judges(seed), "tfidf_logreg": lexical}
    for name, baseline in baselines.items():
        verdicts[name] = baseline.judge(tasks, list(heldout), both_orders=True)
    summary = summarize(tasks, list(fitted), verdicts[judge_name], n_boot, seed)
    summary["invalid"] = sum(not v.valid for v in verdicts[judge_name])
    summary["consistency"] = summary["position"]["consistency"]

    names = list(verdicts)
    pair_idx = [i for i, e in enumerate(heldout) if tasks[e.task].type is TaskType.PAIRWISE]
    per_task: dict[str, Any] = {}
    for task_name, idx in sorted(_by_task_index(heldout).items()):
        task = tasks[task_name]
        gold = [heldout[i].label for i in idx]
        entry: dict[str, Any] = {"type": str(task.type), "n": len(idx)}
        for name in names:
            pred = [_pick(verdicts[name][i]) for i in idx]
            entry[name] = {
                "accuracy": M.with_ci(M.accuracy, gold, pred, n_resamples=n_boot, seed=seed),
                "macro_f1": M.macro_f1(gold, pred, list(task.labels)),
            }
            if task.type is TaskType.PAIRWISE:
                entry[name].update(
                    pairwise_scores(
                        [heldout[i] for i in idx], [verdicts[name][i] for i in idx], n_boot, seed
                    )
                )
        if task.type is TaskType.POINTWISE and task_name in summary["per_task"]:
            for key in ("spearman", "pearson", "kappa_quadratic"):
                if key in summary["per_task"][task_name]:
                    entry[judge_name][key] = summary["per_task"][task_name][key]
        per_task[task_name] = entry

    def pooled(idx: Sequence[int], only_human: bool) -> dict[str, Any]:
        if only_human:
            idx = [i for i in idx if _is_human(heldout[i])]
        items = [heldout[i] for i in idx]
        gold = [e.label for e in items]
        out: dict[str, Any] = {
            "n": len(idx),
            "tasks": sorted({e.task for e in items}),
            # The human labels' own position prior: what always-first exploits and a
            # both-order judge cannot (it sees each pair in both orders).
            "gold_labels": {label: gold.count(label) for label in sorted(set(gold))},
        }
        for name in names:
            out[name] = pairwise_scores(items, [verdicts[name][i] for i in idx], n_boot, seed)
        out["judge_minus"] = {
            name: _paired_difference(
                gold,
                [verdicts[judge_name][i] for i in idx],
                [verdicts[name][i] for i in idx],
                n_boot,
                seed,
            )
            for name in names
            if name != judge_name
        }
        lost = [
            k
            for k, e in enumerate(items)
            if _longer(e) and e.label in ("A", "B") and e.label != _longer(e)
        ]
        out["judge_minus_on_longer_lost"] = {
            name: _paired_difference(
                [gold[k] for k in lost],
                [verdicts[judge_name][idx[k]] for k in lost],
                [verdicts[name][idx[k]] for k in lost],
                n_boot,
                seed,
            )
            for name in names
            if name != judge_name
        }
        return out

    all_idx = list(range(len(heldout)))
    human_all = [i for i in all_idx if _is_human(heldout[i])]
    overall = {
        name: M.with_ci(
            M.accuracy,
            [heldout[i].label for i in human_all],
            [_pick(verdicts[name][i]) for i in human_all],
            n_resamples=n_boot,
            seed=seed,
        )
        for name in names
    }
    report: dict[str, Any] = {
        "judge_name": judge_name,
        "n": len(heldout),
        "pooled_pairwise_human": pooled(pair_idx, only_human=True),
        "pooled_pairwise_all": pooled(pair_idx, only_human=False),
        "overall_human_accuracy": overall,
        "random_expected_human": expected_random_accuracy(tasks, [heldout[i] for i in human_all]),
        "per_task": per_task,
        "judge_summary": summary,
    }
    if profile.bias:
        pairwise_fitted = [fitted[i] for i in pair_idx if _is_human(heldout[i])]
        report["bias"] = run_bias_suite(judge, tasks, pairwise_fitted, seed=seed)
    return report


def _by_task_index(examples: Sequence[Example]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        out.setdefault(example.task, []).append(i)
    return out


def _is_human(example: Example) -> bool:
    source = example.provenance.get("source")
    return source not in ("demo", "self-taught") and example.task != TEACHER_TASK


# --- the recipe ---------------------------------------------------------------------------------


def mixture(
    tasks: Mapping[str, Task], counts: Mapping[str, int], profile: Profile
) -> dict[str, float]:
    """FLAMe examples-proportional weights with the profile's cap, human pairwise tasks
    multiplied by `pairwise_boost`, self-taught and teacher tasks by their multipliers."""
    cap = profile.train.get("per_task_cap", 2**16)
    weights = {}
    for name, n in counts.items():
        weight = float(min(n, cap))
        if name.startswith(SELF_TAUGHT_PREFIX):
            weight *= profile.self_taught_weight
        elif name == TEACHER_TASK:
            weight *= profile.teacher_weight
        elif tasks[name].type is TaskType.PAIRWISE and name not in {t.name for t in DEMO_TASKS}:
            weight *= profile.pairwise_boost
        weights[name] = weight
    total = sum(weights.values())
    return {name: w / total for name, w in sorted(weights.items()) if w > 0}


def build_data(
    recipe: str,
    data_root: Path,
    profile: Profile,
    seed: int = 0,
    sources: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every dataset of the recipe, converted, split, subsampled and fitted."""
    if recipe not in ("default", "teacher"):
        raise ValueError(f"unknown recipe {recipe!r}; known: default, teacher")
    folders = list(sources if sources is not None else HUMAN_SOURCES)
    for folder in folders:
        if folder not in HUMAN_SOURCES:
            raise ValueError(f"{folder!r} is not a permissively licensed human-labelled set")
        if not (data_root / folder).is_dir():
            raise ValueError(f"{data_root / folder}: no such dataset folder")
    tasks, human, info = load_sources(data_root, folders)
    log(f"converted {len(human)} human-labelled examples of {len(tasks)} tasks")
    for task in DEMO_TASKS:
        tasks[task.name] = task
    demo = generate_demo_examples(profile.demo_per_task, seed=seed)
    info["demo (judging/demo_tasks.py)"] = {
        "license": "generated (project)",
        "tasks": [t.name for t in DEMO_TASKS],
        "examples": len(demo),
    }
    splits = split_examples(tasks, [*human, *demo], profile.test_percent, profile.dev_percent)
    teacher_info = None
    if recipe == "teacher":
        t_tasks, t_examples, teacher_info = teacher_examples(
            data_root, profile.teacher_examples, seed, profile.teacher_scan
        )
        tasks.update(t_tasks)
        for name, rows in split_examples(
            tasks, t_examples, profile.test_percent, profile.dev_percent
        ).items():
            splits[name].extend(rows)
        info[TEACHER_SOURCE] = teacher_info
    st_tasks, st_pairs = self_taught_examples(
        tasks,
        splits["train"],
        profile.self_taught_per_task,
        profile.self_taught_top_k,
        seed,
        profile.perturbed_per_task,
        profile.tie_per_task,
    )
    tasks.update(st_tasks)
    info["self-taught (training/self_taught.py)"] = {
        "license": "derived from the training split above",
        "tasks": sorted(st_tasks),
        "examples": len(st_pairs),
    }
    train_rows: list[Example] = []
    for name, rows in sorted(_by_task(splits["train"]).items()):
        train_rows.extend(_subsample(rows, profile.max_train_per_task, f"{seed}:train:{name}"))
    train_rows.extend(st_pairs)
    heldout: list[Example] = []
    for name, rows in sorted(_by_task(splits["test"]).items()):
        pairwise = tasks[name].type is TaskType.PAIRWISE
        limit = profile.max_eval_pairwise if pairwise else profile.max_eval_per_task
        heldout.extend(_subsample(rows, limit, f"{seed}:test:{name}"))
    dev = []
    for name, rows in sorted(_by_task(splits["dev"]).items()):
        pairwise = tasks[name].type is TaskType.PAIRWISE
        limit = profile.max_eval_pairwise if pairwise else profile.max_eval_per_task
        dev.extend(_subsample(rows, limit, f"{seed}:dev:{name}"))
    counts = {
        name: {s: sum(e.task == name for e in splits[s]) for s in SPLITS}
        for name in sorted({e.task for s in SPLITS for e in splits[s]})
    }
    return {
        "tasks": tasks,
        "splits": splits,
        "train": train_rows,
        "train_fitted": [fit_example(tasks[e.task], e, profile) for e in train_rows],
        "dev": dev,
        "test": heldout,
        "sources": info,
        "split_counts": counts,
        "teacher": teacher_info,
    }


def check_disjoint(tasks: Mapping[str, Task], splits: Mapping[str, Sequence[Example]]) -> dict:
    """Prompt keys per split; raises AssertionError if a prompt sits in two splits."""
    keys = {name: {prompt_key(tasks[e.task], e) for e in rows} for name, rows in splits.items()}
    for a in SPLITS:
        for b in SPLITS:
            if a < b and keys[a] & keys[b]:
                raise AssertionError(f"prompts in both {a} and {b}: {len(keys[a] & keys[b])}")
    return {name: len(k) for name, k in keys.items()}


def run_recipe(
    recipe: str,
    out_dir: str | Path,
    *,
    profile: str | Profile = "default",
    data_root: str | Path = DEFAULT_DATA,
    seed: int = 0,
    sources: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    eval_split: str = "test",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Build the data, train, evaluate; write OUT/model, OUT/report, OUT/recipe.json and
    OUT/model_card.md. `overrides`: TrainConfig fields on top of the profile's."""
    from evaluation.lexical import train_lexical
    from evaluation.report import write_report
    from judging.inference import Judge
    from training.train import corpus_tokenizer, train

    started, cpu_started = time.monotonic(), time.process_time()
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    if isinstance(profile, str) and profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {sorted(PROFILES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = build_data(recipe, Path(data_root), prof, seed, sources, log)
    tasks = data["tasks"]
    disjoint = check_disjoint(tasks, data["splits"])
    if recipe == "default" and any(e.task == TEACHER_TASK for e in data["train"]):
        raise AssertionError("teacher data in the default recipe")
    timings = {"data_seconds": round(time.monotonic() - started, 1)}
    log(
        f"data: {len(data['train'])} training rows, {len(data[eval_split])} held-out "
        f"({eval_split}) items, {timings['data_seconds']} s"
    )

    config = TrainConfig(**{**prof.train, "seed": seed, **dict(overrides or {})})
    counts: dict[str, int] = {}
    for example in data["train"]:
        counts[example.task] = counts.get(example.task, 0) + 1
    weights = mixture(tasks, counts, prof)
    config = config.replace(mixture_weights=weights)
    train_tasks = {name: tasks[name] for name in counts}
    tokenizer = corpus_tokenizer(train_tasks, data["train_fitted"], config.vocab_size)
    count = _token_counter(tokenizer)
    train_fitted = [
        view
        for e in data["train"]
        for view in training_views(tasks[e.task], e, prof, count, config.max_len)
    ]
    t0, c0 = time.monotonic(), time.process_time()

    def progress(step: int, total: int, loss: float) -> None:
        rate = step / max(time.monotonic() - t0, 1e-9)
        cpu = (time.process_time() - c0) / step
        log(f"step {step}/{total} loss {loss:.4f} ({rate:.2f} steps/s, {cpu:.2f} CPU-s/step)")

    result = train(
        train_tasks,
        train_fitted,
        config,
        out / "model",
        on_progress=progress,
        state_dir=out / "state" if config.checkpoint_every else None,
        tokenizer=tokenizer,
    )
    timings["train_seconds"] = round(time.monotonic() - t0, 1)

    t1 = time.monotonic()
    lexical = train_lexical(tasks, data["train"], seed)
    timings["lexical_seconds"] = round(time.monotonic() - t1, 1)

    t2 = time.monotonic()
    heldout = data[eval_split]
    judge = Judge.load(result.checkpoint_dir)
    count = _token_counter(judge.tokenizer)
    fitted = [fit_to_window(tasks[e.task], e, prof, count, judge.config.max_len) for e in heldout]
    evaluation = evaluate_recipe(judge, tasks, heldout, fitted, lexical, prof, seed)
    timings["eval_seconds"] = round(time.monotonic() - t2, 1)
    timings["total_seconds"] = round(time.monotonic() - started, 1)
    # CPU seconds of this process: on a busy shared machine, wall time overstates the cost.
    timings["cpu_seconds"] = round(time.process_time() - cpu_started, 1)

    report = {
        "recipe": recipe,
        "profile": prof.name,
        "eval_split": eval_split,
        "seed": seed,
        "sources": data["sources"],
        "excluded_sources": {k: v for k, v in EXCLUDED_SOURCES.items() if k != TEACHER_SOURCE}
        if recipe == "teacher"
        else EXCLUDED_SOURCES,
        "split_counts": data["split_counts"],
        "distinct_prompts_per_split": disjoint,
        "splits_disjoint_by_prompt": True,
        "train_rows_per_task": counts,
        "mixture_weights": weights,
        "train_config": config.to_dict(),
        "profile_settings": dataclasses.asdict(prof),
        "train": {
            "steps": result.steps,
            "final_loss": result.final_loss,
            "loss_history": result.loss_history,
        },
        "timings": timings,
        "budget_minutes": prof.budget_minutes,
        **evaluation,
    }
    if recipe == "teacher":
        report["note"] = (
            "Teacher recipe: trained with LLM-judge labels (CC BY-NC 4.0). The held-out "
            f"{TEACHER_TASK} items measure agreement with the teacher, not with humans; "
            "pooled_pairwise_human excludes them."
        )
    write_report(_report_for_pictures(report), out / "report")
    (out / "recipe.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=str))
    (out / "model_card.md").write_text(model_card(report))
    log(f"done in {timings['total_seconds']} s: {out}")
    return report


def _token_counter(tokenizer) -> Callable[[str], int]:
    """Tokens of a rendered prompt as `encode_prompt` makes them (BOS included)."""
    bos = 0 if tokenizer.bos_id is None else 1
    return lambda text: bos + len(tokenizer.encode(text))


def _report_for_pictures(report: Mapping[str, Any]) -> dict[str, Any]:
    """write_report's shape: the judge's summary plus this recipe's numbers."""
    summary = dict(report["judge_summary"])
    summary["baselines"] = {
        "random_expected": {"accuracy": report["random_expected_human"]},
    }
    if "bias" in report:
        summary["bias"] = report["bias"]
    summary["recipe"] = {k: v for k, v in report.items() if k != "judge_summary"}
    return summary


# --- the model card -------------------------------------------------------------------------------


def _fmt(metric: Mapping[str, Any] | None) -> str:
    if not metric or metric.get("value") is None:
        return "n/a"
    ci = metric.get("ci")
    if ci:
        return f"{metric['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{metric['value']:.3f}"


BASELINE_NAMES = ("longer_wins", "shorter_wins", "tfidf_logreg", "always_first", "random")


def model_card(report: Mapping[str, Any]) -> str:
    """A Markdown summary of a recipe run: its held-out numbers beside the baselines."""
    judge = report["judge_name"]
    lines = [
        f"### Recipe `{report['recipe']}` (profile `{report['profile']}`), "
        f"held-out split `{report['eval_split']}`",
        "",
        f"Trained {report['train']['steps']} steps in {report['timings']['train_seconds']:.0f} s; "
        f"whole run {report['timings']['total_seconds']:.0f} s.",
        "",
        "Pooled human pairwise held-out items "
        f"(n = {report['pooled_pairwise_human']['n']}; "
        f"{', '.join(report['pooled_pairwise_human']['tasks'])}), accuracy with 95% bootstrap CI:",
        "",
        "| judge | accuracy | longer response lost | longer won | length-balanced | "
        "both-order consistency |",
        "|---|---|---|---|---|---|",
    ]
    pooled = report["pooled_pairwise_human"]
    for name in (judge, *BASELINE_NAMES):
        row = pooled[name]
        cons = row["consistency"]
        lines.append(
            f"| {name} | {_fmt(row['accuracy'])} | {_fmt(row['longer_lost'])} | "
            f"{_fmt(row['longer_won'])} | {_fmt(row['length_balanced'])} | "
            f"{'n/a' if cons is None else f'{cons:.3f}'} |"
        )
    gold = pooled["gold_labels"]
    if gold:
        lines += [
            "",
            "Held-out human labels: "
            + ", ".join(f"{label} {count}" for label, count in gold.items())
            + " (A is the first-shown response; the judge averages both orders of each pair,"
            " so a first-slot preference of the labels helps only always-first).",
        ]
    lines += [
        "",
        "Judge minus baseline (paired bootstrap, 95% CI), pooled / longer-lost items:",
        "",
    ]
    for name in BASELINE_NAMES:
        lines.append(
            f"- {name}: {_fmt(pooled['judge_minus'][name])} / "
            f"{_fmt(pooled['judge_minus_on_longer_lost'][name])}"
        )
    lines += [
        "",
        "Per task (accuracy, 95% CI; pointwise tasks also Spearman of the expected score):",
        "",
        f"| task | n | {judge} | longer_wins | shorter_wins | tfidf_logreg |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in report["per_task"].items():
        extra = ""
        if "spearman" in entry[judge]:
            extra = f"; Spearman {_fmt(entry[judge]['spearman'])}"
        cells = [
            _fmt(entry[b]["accuracy"])
            if entry["type"] == "pairwise" or b == "tfidf_logreg"
            else "n/a"
            for b in ("longer_wins", "shorter_wins", "tfidf_logreg")
        ]
        lines.append(
            f"| {name} | {entry['n']} | {_fmt(entry[judge]['accuracy'])}{extra} | "
            + " | ".join(cells)
            + " |"
        )
    overall = report["overall_human_accuracy"]
    lines += [
        "",
        f"All human held-out items (n = {overall[judge]['n']}): {judge} {_fmt(overall[judge])}, "
        f"tfidf_logreg {_fmt(overall['tfidf_logreg'])}, expected random "
        f"{report['random_expected_human']:.3f}.",
    ]
    bias = report.get("bias", {}).get("biases", {})
    if bias:
        lines += ["", "Bias probes (CoBBLEr; lower is better, random judge in brackets):", ""]
        for name, row in bias.items():
            if row.get("value") is not None:
                lines.append(f"- {name}: {row['value']:.3f} ({row.get('random_baseline')})")
    return "\n".join(lines) + "\n"


# --- command line -------------------------------------------------------------------------------


def add_parser(sub) -> None:
    """`python -m training recipe default|teacher --out DIR [--profile P] ...`"""
    cmd = sub.add_parser("recipe", help="convert, split, mix, train and evaluate a judge")
    cmd.add_argument("recipe", choices=("default", "teacher"))
    cmd.add_argument("--out", required=True)
    cmd.add_argument(
        "--profile",
        default="default",
        choices=sorted(PROFILES),
        help="quick: minutes (development); default: the one-hour CPU recipe; "
        "accelerator: a larger model for one GPU, 30 minutes",
    )
    cmd.add_argument("--accelerator", action="store_true", help="same as --profile accelerator")
    cmd.add_argument("--data-root", default=str(DEFAULT_DATA))
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--source", action="append", help="only these dataset folders")
    cmd.add_argument("--eval-split", default="test", choices=("dev", "test"))
    cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a TrainConfig field (VALUE is JSON, else a string)",
    )


def main(args) -> int:
    import sys

    overrides: dict[str, Any] = {}
    for item in args.set:
        field, _, value = item.partition("=")
        try:
            overrides[field] = json.loads(value)
        except json.JSONDecodeError:
            overrides[field] = value
    try:
        report = run_recipe(
            args.recipe,
            args.out,
            profile="accelerator" if args.accelerator else args.profile,
            data_root=args.data_root,
            seed=args.seed,
            sources=args.source,
            overrides=overrides,
            eval_split=args.eval_split,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except (ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    pooled = report["pooled_pairwise_human"]
    print(
        json.dumps(
            {
                "out": str(args.out),
                "pooled_pairwise_human": {
                    name: pooled[name]["accuracy"]["value"]
                    for name in (report["judge_name"], *BASELINE_NAMES)
                },
                "timings": report["timings"],
            },
            indent=2,
        )
    )
    return 0
