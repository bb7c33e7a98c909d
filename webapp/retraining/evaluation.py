"""Evaluate a candidate once on the held-out human labels: metrics, the full report and the
gate all read the same verdicts (no second pass over the held-out items)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from judging.task_format import Example, Task
from judging.verdict import Verdict


def _key(example: Example) -> tuple:
    return (example.task, example.id, example.label, json.dumps(example.context, sort_keys=True))


class CachedJudge:
    """A judge that scores a given list of examples once; later identical calls are free."""

    def __init__(self, judge) -> None:
        self.inner = judge
        self.calls = 0
        self._cache: dict[tuple, list[Verdict]] = {}

    def judge(
        self,
        tasks: Mapping[str, Task],
        examples: Sequence[Example],
        both_orders: bool = True,
        batch_size: int = 32,
    ) -> list[Verdict]:
        key = (both_orders, tuple(_key(e) for e in examples))
        if key not in self._cache:
            self.calls += 1
            self._cache[key] = self.inner.judge(
                tasks, examples, both_orders=both_orders, batch_size=batch_size
            )
        return self._cache[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def scorable(tasks: Mapping[str, Task], examples: Sequence[Example]) -> list[Example]:
    return [e for e in examples if e.label is not None and e.task in tasks]
