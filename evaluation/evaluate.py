"""Evaluate a Judge against labelled examples: accuracy, per task, swap consistency, invalid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.baselines import JudgeLike
from evaluation.bias import position_statistics
from evaluation.metrics import macro_f1
from judging.task_format import Example, Task


def evaluate(
    judge: JudgeLike,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    batch_size: int = 32,
) -> dict[str, Any]:
    """JSON-able report. Examples without a label are skipped. An invalid verdict counts as
    wrong in accuracy and is counted in "invalid"; "consistency" is the fraction of pairwise
    items whose two orders pick the same label (None if there are none). Also: per task
    "macro_f1" (macro over the task's labels), and "position" (JudgeLM consistency and
    first/second-position preference). The full report with CIs is evaluation.report."""
    labelled = [e for e in examples if e.label is not None]
    verdicts = judge.judge(tasks, labelled, both_orders=True, batch_size=batch_size)
    per_task: dict[str, dict[str, float]] = {}
    correct_total = 0
    invalid = 0
    consistent_flags: list[bool] = []
    for example, verdict in zip(labelled, verdicts, strict=True):
        stats = per_task.setdefault(example.task, {"correct": 0, "n": 0, "invalid": 0})
        stats["n"] += 1
        if not verdict.valid:
            invalid += 1
            stats["invalid"] += 1
        hit = verdict.valid and verdict.label == example.label
        stats["correct"] += int(hit)
        correct_total += int(hit)
        if verdict.consistent is not None:
            consistent_flags.append(verdict.consistent)
    n = len(labelled)
    f1 = {}
    for name in per_task:
        pairs = [
            (e.label, v.label if v.valid else None)
            for e, v in zip(labelled, verdicts, strict=True)
            if e.task == name
        ]
        labels = list(tasks[name].labels) if name in tasks else None
        f1[name] = macro_f1([g for g, _ in pairs], [p for _, p in pairs], labels or None)
    return {
        "accuracy": correct_total / n if n else 0.0,
        "n": n,
        "per_task": {
            name: {
                "accuracy": s["correct"] / s["n"],
                "n": int(s["n"]),
                "invalid": int(s["invalid"]),
                "macro_f1": f1[name],
            }
            for name, s in sorted(per_task.items())
        },
        "consistency": (
            sum(consistent_flags) / len(consistent_flags) if consistent_flags else None
        ),
        "invalid": invalid,
        "position": position_statistics(verdicts),
    }
