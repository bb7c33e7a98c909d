"""Tail-patch ablation for FLAMe-Opt-RM (arXiv 2407.10817 section 4.3): the probes.

1. Start from a partially trained multitask checkpoint (`base_checkpoint`).
2. Tail-patch each training task: fine-tune from the checkpoint on that task alone
   (`tailpatch_probe`, `config.steps` steps, evaluated at `eval_points` points along the way)
   and measure every target category's held-out accuracy against the base's.
3.-5. Ratings, bundles and mixture weights from the probes: training/variants/tailpatch_plan.py.
6. FLAMe-Opt-RM then trains from the initial model on the re-weighted mixture
   (`python -m training tailpatch ... --train-out DIR`).

Probes are independent (they take paths and plain data and write only under their own work
folder), so a caller can run them in parallel and pass the list to `tailpatch_weights`;
`tailpatch` runs them serially and makes the plan.
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
from training.loop import train
from training.variants.common import check_labels, require_checkpoint, scorable_examples
from training.variants.tailpatch_plan import tailpatch_plan

DEFAULT_PROBE_STEPS = 100
MAX_EVAL_PER_CATEGORY = 256

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
