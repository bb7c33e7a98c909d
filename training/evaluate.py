"""Evaluate a Judge against labelled examples: accuracy, per task, swap consistency, invalid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from judging.inference import Judge
from judging.task_format import Example, Task


def evaluate(
    judge: Judge,
    tasks: Mapping[str, Task],
    examples: Sequence[Example],
    batch_size: int = 32,
) -> dict[str, Any]:
    """JSON-able report. Examples without a label are skipped. An invalid verdict counts as
    wrong in accuracy and is counted in "invalid"; "consistency" is the fraction of pairwise
    items whose two orders pick the same label (None if there are none)."""
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
    return {
        "accuracy": correct_total / n if n else 0.0,
        "n": n,
        "per_task": {
            name: {
                "accuracy": s["correct"] / s["n"],
                "n": int(s["n"]),
                "invalid": int(s["invalid"]),
            }
            for name, s in sorted(per_task.items())
        },
        "consistency": (sum(consistent_flags) / len(consistent_flags)
                        if consistent_flags else None),
        "invalid": invalid,
    }
