"""JudgeLM augmentations.

Swap augmentation: a pairwise example is shown with its two responses (and its label) swapped
with probability p, so the judge cannot learn a position preference.

Reference support and reference drop: an example's optional `reference` (a gold answer) is
rendered into the prompt ("reference: ..."); with reference drop the same example is shown
without it with probability p, so one judge serves prompts with and without references.
"""

from __future__ import annotations

import dataclasses
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


def drop_reference(example: Example) -> Example:
    """The example without its reference (unchanged if it has none)."""
    if example.reference is None:
        return example
    return dataclasses.replace(example, reference=None)


def maybe_drop_reference(example: Example, rng: random.Random, probability: float) -> Example:
    """The example without its reference with probability `probability` (if it has one)."""
    if example.reference and probability > 0 and rng.random() < probability:
        return drop_reference(example)
    return example
