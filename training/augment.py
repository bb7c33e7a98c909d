"""JudgeLM augmentations.

Swap augmentation: a pairwise example is shown with its two responses (and its label) swapped
with probability p, so the judge cannot learn a position preference.
"""

from __future__ import annotations

import random

from judging.task_format import Example, Task, TaskType, swap_pairwise


def maybe_swap(task: Task, example: Example, rng: random.Random, probability: float) -> Example:
    """The example, or its swapped twin with probability `probability` (pairwise only)."""
    if task.type is TaskType.PAIRWISE and probability > 0 and rng.random() < probability:
        return swap_pairwise(example)
    return example


def swap_augment(
    tasks: dict[str, Task], examples: list[Example], probability: float, seed: int = 0
) -> list[Example]:
    """Apply `maybe_swap` to every example, deterministically for a seed."""
    rng = random.Random(seed)
    return [maybe_swap(tasks[e.task], e, rng, probability) for e in examples]
