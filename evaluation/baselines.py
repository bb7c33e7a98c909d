"""Rule judges: the report's baselines (random, always-first, longer-wins, shorter-wins) and a
`FunctionJudge` that turns any rule into an object with the real Judge's `judge()` method, so
probes, tournaments and reports run the same way on rules, test fakes and trained models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    SWAPPED_LABELS,
    Example,
    Task,
    TaskType,
    render_value,
    swap_pairwise,
)
from judging.verdict import Verdict

# A rule sees the task and the example as presented (possibly swapped) and returns a label,
# a label -> probability mapping, or None (no verdict: invalid).
Rule = Callable[[Task, Example], "str | Mapping[str, float] | None"]


class JudgeLike(Protocol):
    def judge(
        self,
        tasks: Mapping[str, Task],
        examples: Sequence[Example],
        both_orders: bool = True,
        batch_size: int = 32,
    ) -> list[Verdict]: ...


def _as_probabilities(task: Task, answer: str | Mapping[str, float]) -> dict[str, float]:
    if isinstance(answer, str):
        return {label: float(label == answer) for label in task.labels}
    total = sum(answer.get(label, 0.0) for label in task.labels) or 1.0
    return {label: answer.get(label, 0.0) / total for label in task.labels}


class FunctionJudge:
    """A judge from a rule, with the real Judge's order handling: pairwise items are judged in
    both orders, the swapped order mapped back to the A/B frame and the two averaged."""

    def __init__(self, rule: Rule, name: str = "rule") -> None:
        self.rule = rule
        self.name = name

    def judge(
        self,
        tasks: Mapping[str, Task],
        examples: Sequence[Example],
        both_orders: bool = True,
        batch_size: int = 32,
    ) -> list[Verdict]:
        return [self._one(tasks.get(e.task), e, both_orders) for e in examples]

    def _one(self, task: Task | None, example: Example, both_orders: bool) -> Verdict:
        def invalid(reason: str) -> Verdict:
            return Verdict(
                example.id, example.task, None, {}, 0.0, {}, None, valid=False, error=reason
            )

        if task is None or not task.labels:
            return invalid("no closed label set")
        orders = {"ab": example}
        if task.type is TaskType.PAIRWISE and both_orders:
            orders["ba"] = swap_pairwise(example)
        order_probs: dict[str, dict[str, float]] = {}
        for name, presented in orders.items():
            answer = self.rule(task, presented)
            if answer is None:
                return invalid(f"{self.name}: no verdict")
            probs = _as_probabilities(task, answer)
            if name == "ba":
                probs = {SWAPPED_LABELS.get(lbl, lbl): p for lbl, p in probs.items()}
            order_probs[name] = {lbl: probs[lbl] for lbl in task.labels}
        labels = list(task.labels)
        probabilities = {
            lbl: sum(p[lbl] for p in order_probs.values()) / len(order_probs) for lbl in labels
        }
        best = max(labels, key=probabilities.__getitem__)
        consistent = None
        if len(order_probs) == 2:
            consistent = len({max(labels, key=p.__getitem__) for p in order_probs.values()}) == 1
        return Verdict(
            example_id=example.id,
            task=task.name,
            label=best,
            probabilities=probabilities,
            confidence=probabilities[best],
            order_probabilities=order_probs,
            consistent=consistent,
        )


def response_length(example: Example, field: str) -> int:
    """Length of a response in characters (as rendered)."""
    return len(render_value(example.context.get(field, "")))


def _stable_unit(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def random_judge(seed: int = 0) -> FunctionJudge:
    """A seeded uniform draw over the task's labels, deterministic per (seed, item, text)."""

    def rule(task: Task, example: Example) -> str:
        # Keyed on the whole presented context: independent draws per order and per probe condition.
        texts = (render_value(example.context[f]) for f in sorted(example.context))
        u = _stable_unit(seed, example.id, *texts)
        return task.labels[min(int(u * len(task.labels)), len(task.labels) - 1)]

    return FunctionJudge(rule, "random")


def always_first_judge() -> FunctionJudge:
    """Pairwise: always A (the first-shown response). Other tasks: the first label."""
    return FunctionJudge(
        lambda task, example: task.labels[0] if task.labels else None, "always-first"
    )


def _length_rule(longer: bool) -> Rule:
    def rule(task: Task, example: Example) -> str | None:
        if task.type is not TaskType.PAIRWISE:
            return None
        a, b = response_length(example, RESPONSE_A), response_length(example, RESPONSE_B)
        if a == b:
            return "tie" if "tie" in task.labels else "A"
        return "A" if (a > b) == longer else "B"

    return rule


def longer_wins_judge() -> FunctionJudge:
    """Pairwise only: the longer response wins (equal length: tie, or A); else no verdict."""
    return FunctionJudge(_length_rule(True), "longer-wins")


def shorter_wins_judge() -> FunctionJudge:
    return FunctionJudge(_length_rule(False), "shorter-wins")


def oracle_judge() -> FunctionJudge:
    """Knows the gold label (tests and upper bounds)."""
    return FunctionJudge(lambda task, example: example.label, "oracle")


def baseline_judges(seed: int = 0) -> dict[str, FunctionJudge]:
    return {
        "random": random_judge(seed),
        "always_first": always_first_judge(),
        "longer_wins": longer_wins_judge(),
        "shorter_wins": shorter_wins_judge(),
    }


def expected_random_accuracy(tasks: Mapping[str, Task], examples: Sequence[Example]) -> float:
    """Expected accuracy of a uniform pick: mean over items of 1/k (k = the task's labels)."""
    items = [e for e in examples if e.label is not None and tasks.get(e.task) is not None]
    if not items:
        return 0.0
    return sum(1 / max(1, len(tasks[e.task].labels)) for e in items) / len(items)
