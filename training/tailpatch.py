"""Tail-patch ablation and FLAMe-Opt-RM mixture weights (arXiv 2407.10817 section 4.3;
RESEARCH.md A.6).

1. Start from a partially trained multitask checkpoint (`base_checkpoint`).
2. Tail-patch each training task: fine-tune from the checkpoint on that task alone
   (`tailpatch_probe`, `config.steps` steps, evaluated at `eval_points` points along the way)
   and measure every target category's held-out accuracy against the base's.
3. Rate each (task, category) effect: helpful +2 (improves by >= `significant` at the end and
   by >= `slight` at every evaluation point: significant and stable), somewhat helpful +1
   (improves by >= `slight` at the end), harmful -1 (drops by >= `significant`), else 0.
4. Bundles: "general" (total rating >= `general_min_total`, by default the number of
   categories: the paper's >= 5 over 5 categories), one bundle per category (its score after
   the tail-patch reaches the category's threshold tau, or, without a tau, the effect there
   is rated helpful), and "others" (in no bundle).
5. Weights: general 100K, each category bundle 30K (summed over bundles), others 3K; in each
   of `weak_categories`, the top two tasks of that category's bundle get at least 200K. The
   result is normalised to sum to 1 (`TrainConfig.mixture_weights` accepts either form).
6. FLAMe-Opt-RM then trains from the initial model on the re-weighted mixture
   (`python -m training tailpatch ... --train-out DIR`).

Probes are independent (they take paths and plain data and write only under their own work
folder), so a caller can run them in parallel and pass the list to `tailpatch_weights`.
Held-out data: the examples `judging.splits.is_heldout` puts aside (by content), never
trained on by a probe, at most `max_eval` per category (FLAMe evaluates 256 per task).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from judging.inference import Judge
from judging.splits import content_key, is_heldout
from judging.task_format import Example, Task
from training.config import TrainConfig
from training.train import train
from training.variants import check_labels, require_checkpoint, scorable_examples

DEFAULT_PROBE_STEPS = 100
MAX_EVAL_PER_CATEGORY = 256

W_GENERAL = 100_000.0
W_SPECIFIC = 30_000.0
W_OTHERS = 3_000.0
W_TOP_SPECIFIC = 200_000.0

Targets = Mapping[str, Sequence[str]] | Sequence[str] | None


# --- data -------------------------------------------------------------------------------------


def split_heldout(
    examples: Sequence[Example], percent: int = 20
) -> tuple[list[Example], list[Example]]:
    """(train, held-out): held-out by content (either response order), one item per content."""
    train_part = [e for e in examples if not is_heldout(e, percent)]
    heldout = list({content_key(e): e for e in examples if is_heldout(e, percent)}.values())
    return train_part, heldout


def resolve_targets(
    tasks: Mapping[str, Task], examples: Sequence[Example], targets: Targets = None
) -> dict[str, list[str]]:
    """Target categories as {category: [task names]}.

    None: every scorable task with examples is its own category; a list of task names: each
    its own category; a mapping: as given. ValueError for an unknown task or empty category."""
    if targets is None:
        present = {e.task for e in scorable_examples(tasks, examples)}
        resolved = {name: [name] for name in sorted(present)}
    elif isinstance(targets, Mapping):
        resolved = {str(cat): list(names) for cat, names in targets.items()}
    else:
        resolved = {name: [name] for name in targets}
    if not resolved:
        raise ValueError("no target categories: no labelled examples of a scorable task")
    for category, names in resolved.items():
        if not names:
            raise ValueError(f"target category {category!r} names no task")
        for name in names:
            if name not in tasks:
                raise ValueError(
                    f"target category {category!r}: unknown task {name!r}; known: {sorted(tasks)}"
                )
    return resolved


def _eval_sets(
    tasks: Mapping[str, Task],
    heldout: Sequence[Example],
    targets: Mapping[str, Sequence[str]],
    max_eval: int,
    seed: int,
) -> dict[str, list[Example]]:
    sets = {}
    for category, names in targets.items():
        items = scorable_examples(tasks, heldout, names)
        if len(items) > max_eval:
            items = random.Random(f"{seed}:{category}").sample(items, max_eval)
        if not items:
            raise ValueError(f"target category {category!r} has no held-out labelled examples")
        sets[category] = items
    return sets


def evaluate_targets(
    checkpoint: str | Path,
    tasks: Mapping[str, Task],
    eval_sets: Mapping[str, Sequence[Example]],
) -> dict[str, dict[str, float]]:
    """{category: {"accuracy", "n"}}: both-order verdicts; invalid counts as wrong."""
    judge = Judge.load(checkpoint)
    union = list({id(e): e for items in eval_sets.values() for e in items}.values())
    verdicts = judge.judge(tasks, union, both_orders=True)
    hit = {
        id(e): bool(v.valid and v.label == e.label) for e, v in zip(union, verdicts, strict=True)
    }
    return {
        category: {"accuracy": sum(hit[id(e)] for e in items) / len(items), "n": len(items)}
        for category, items in eval_sets.items()
    }


# --- probes -----------------------------------------------------------------------------------


def _safe_name(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)[:60]}-{digest}"


def base_metrics(
    base_checkpoint: str | Path,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    targets: Targets = None,
    *,
    heldout_percent: int = 20,
    max_eval: int = MAX_EVAL_PER_CATEGORY,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """The base checkpoint's held-out accuracy per target category (shared by all probes)."""
    resolved = resolve_targets(tasks, examples, targets)
    _, heldout = split_heldout(examples, heldout_percent)
    sets = _eval_sets(tasks, heldout, resolved, max_eval, seed)
    return evaluate_targets(require_checkpoint(base_checkpoint), tasks, sets)


def tailpatch_probe(
    base_checkpoint: str | Path,
    task_name: str,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    work_dir: str | Path,
    *,
    targets: Targets = None,
    base: Mapping[str, Mapping[str, float]] | None = None,
    eval_points: int = 2,
    heldout_percent: int = 20,
    max_eval: int = MAX_EVAL_PER_CATEGORY,
    keep_checkpoints: bool = False,
) -> dict[str, Any]:
    """Fine-tune `base_checkpoint` on `task_name` alone for `config.steps` steps and evaluate
    every target category's held-out data at `eval_points` evenly spaced points.

    Returns (and writes to WORK_DIR/<task>/probe.json) {"task", "steps", "n_train",
    "categories": {category: {"base", "after", "delta", "curve": [[step, accuracy], ...], "n"}}}.
    `base`: the base's metrics from `base_metrics` (computed here if not given)."""
    require_checkpoint(base_checkpoint)
    if task_name not in tasks:
        raise ValueError(f"unknown task {task_name!r}; known: {sorted(tasks)}")
    if eval_points < 1 or eval_points > config.steps:
        raise ValueError("eval_points must be between 1 and config.steps")
    check_labels(base_checkpoint, [tasks[task_name]])
    resolved = resolve_targets(tasks, examples, targets)
    train_part, heldout = split_heldout(examples, heldout_percent)
    own = scorable_examples(tasks, train_part, [task_name])
    if not own:
        raise ValueError(f"task {task_name!r} has no labelled training examples to tail-patch on")
    sets = _eval_sets(tasks, heldout, resolved, max_eval, config.seed)
    if base is None:
        base = evaluate_targets(base_checkpoint, tasks, sets)

    folder = Path(work_dir) / _safe_name(task_name)
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [
        config.steps // eval_points + (i < config.steps % eval_points) for i in range(eval_points)
    ]
    current, done = Path(base_checkpoint), 0
    curve: dict[str, list[list[float]]] = {category: [] for category in resolved}
    losses = []
    # Each chunk continues from the previous one's weights (a fresh data order per chunk).
    for index, steps in enumerate(chunks):
        chunk_config = config.replace(
            steps=steps, seed=config.seed + index, mixture_weights={task_name: 1.0}
        )
        result = train(
            {task_name: tasks[task_name]},
            own,
            chunk_config,
            folder / f"step-{done + steps}",
            init_checkpoint=current,
        )
        losses.append(result.final_loss)
        if index and not keep_checkpoints:
            shutil.rmtree(current, ignore_errors=True)
        current, done = result.checkpoint_dir, done + steps
        metrics = evaluate_targets(current, tasks, sets)
        for category, values in metrics.items():
            curve[category].append([done, values["accuracy"]])
    if not keep_checkpoints:
        shutil.rmtree(current, ignore_errors=True)

    categories = {}
    for category in resolved:
        before = float(base[category]["accuracy"])
        after = curve[category][-1][1]
        categories[category] = {
            "base": before,
            "after": after,
            "delta": after - before,
            "curve": curve[category],
            "n": len(sets[category]),
        }
    probe = {
        "task": task_name,
        "base_checkpoint": str(Path(base_checkpoint).absolute()),
        "steps": config.steps,
        "n_train": len(own),
        "final_loss": losses[-1],
        "categories": categories,
    }
    (folder / "probe.json").write_text(json.dumps(probe, indent=2, sort_keys=True), "utf-8")
    return probe


# --- ratings, bundles, weights ----------------------------------------------------------------


def rate_effect(
    base: float, curve: Sequence[Sequence[float]], significant: float, slight: float
) -> int:
    """+2 helpful (significant and stable), +1 somewhat helpful, 0 no clear effect, -1 harmful."""
    deltas = [float(point[1]) - base for point in curve]
    final = deltas[-1]
    if final <= -significant:
        return -1
    if final >= significant and min(deltas) >= slight:
        return 2
    if final >= slight:
        return 1
    return 0


def _as_list(probe_results: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list:
    if isinstance(probe_results, Mapping):
        return [dict(probe, task=probe.get("task", name)) for name, probe in probe_results.items()]
    return list(probe_results)


def tailpatch_plan(
    probe_results: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    significant: float = 0.05,
    slight: float = 0.01,
    general_min_total: int | None = None,
    thresholds: Mapping[str, float] | None = None,
    weak_categories: Iterable[str] = (),
    w_general: float = W_GENERAL,
    w_specific: float = W_SPECIFIC,
    w_others: float = W_OTHERS,
    w_top_specific: float = W_TOP_SPECIFIC,
    top_k: int = 2,
) -> dict[str, Any]:
    """Ratings, totals, bundles, raw and normalised weights from the probes (see module doc)."""
    probes = _as_list(probe_results)
    if not probes:
        raise ValueError("no probe results")
    if not 0 <= slight <= significant:
        raise ValueError("need 0 <= slight <= significant")
    categories = sorted({c for probe in probes for c in probe["categories"]})
    weak = list(weak_categories)
    for name in [*weak, *(thresholds or {})]:
        if name not in categories:
            raise ValueError(f"unknown category {name!r}; probed: {categories}")
    min_total = len(categories) if general_min_total is None else general_min_total
    ratings: dict[str, dict[str, int]] = {}
    after: dict[str, dict[str, float]] = {}
    for probe in probes:
        task = probe["task"]
        ratings[task] = {}
        after[task] = {}
        for category, values in probe["categories"].items():
            curve = values.get("curve") or [[probe.get("steps", 0), values["after"]]]
            ratings[task][category] = rate_effect(values["base"], curve, significant, slight)
            after[task][category] = float(values["after"])
    totals = {task: sum(r.values()) for task, r in ratings.items()}
    bundles: dict[str, list[str]] = {"general": []}
    bundles["general"] = sorted(
        t for t, total in totals.items() if total > 0 and total >= min_total
    )
    for category in categories:
        tau = (thresholds or {}).get(category)
        members = [
            task
            for task in ratings
            if category in ratings[task]
            and (after[task][category] >= tau if tau is not None else ratings[task][category] == 2)
        ]
        bundles[f"category:{category}"] = sorted(members)
    in_any = {t for name, members in bundles.items() for t in members}
    bundles["others"] = sorted(set(ratings) - in_any)

    raw: dict[str, float] = {}
    for task in ratings:
        weight = w_general * (task in bundles["general"])
        weight += w_specific * sum(task in bundles[f"category:{c}"] for c in categories)
        raw[task] = weight if weight > 0 else w_others
    top: dict[str, list[str]] = {}
    for category in weak:
        members = bundles[f"category:{category}"]
        ranked = sorted(members, key=lambda t: (-after[t][category], -ratings[t][category], t))
        top[category] = ranked[:top_k]
        for task in top[category]:
            raw[task] = max(raw[task], w_top_specific)
    total = sum(raw.values())
    return {
        "categories": categories,
        "ratings": ratings,
        "totals": totals,
        "bundles": bundles,
        "top_specific": top,
        "raw_weights": raw,
        "weights": {task: w / total for task, w in sorted(raw.items())},
        "settings": {
            "significant": significant,
            "slight": slight,
            "general_min_total": min_total,
            "thresholds": dict(thresholds or {}),
            "weak_categories": weak,
            "w_general": w_general,
            "w_specific": w_specific,
            "w_others": w_others,
            "w_top_specific": w_top_specific,
            "top_k": top_k,
        },
    }


def tailpatch_weights(
    probe_results: Mapping[str, Any] | Iterable[Mapping[str, Any]], **settings: Any
) -> dict[str, float]:
    """Mixture weights (summing to 1) from the probes: see `tailpatch_plan` for the settings."""
    return tailpatch_plan(probe_results, **settings)["weights"]


def tailpatch(
    base_checkpoint: str | Path,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    config: TrainConfig,
    work_dir: str | Path,
    targets: Targets = None,
    *,
    probe_tasks: Iterable[str] | None = None,
    eval_points: int = 2,
    heldout_percent: int = 20,
    max_eval: int = MAX_EVAL_PER_CATEGORY,
    on_probe: Any = None,
    **settings: Any,
) -> dict[str, Any]:
    """Every probe run serially, then the plan: {"weights", "raw_weights", "ratings",
    "bundles", "base", "probes", ...}; also written to WORK_DIR/tailpatch.json."""
    require_checkpoint(base_checkpoint)
    resolved = resolve_targets(tasks, examples, targets)
    names = (
        list(dict.fromkeys(probe_tasks))
        if probe_tasks is not None
        else sorted({e.task for e in scorable_examples(tasks, examples)})
    )
    if not names:
        raise ValueError("no task to tail-patch")
    base = base_metrics(
        base_checkpoint,
        tasks,
        examples,
        resolved,
        heldout_percent=heldout_percent,
        max_eval=max_eval,
        seed=config.seed,
    )
    probes = []
    for name in names:
        probe = tailpatch_probe(
            base_checkpoint,
            name,
            tasks,
            examples,
            config,
            work_dir,
            targets=resolved,
            base=base,
            eval_points=eval_points,
            heldout_percent=heldout_percent,
            max_eval=max_eval,
        )
        probes.append(probe)
        if on_probe is not None:
            on_probe(probe)
    plan = tailpatch_plan(probes, **settings)
    result = {**plan, "base": base, "targets": resolved, "probes": probes}
    path = Path(work_dir) / "tailpatch.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True), "utf-8")
    return result
