"""Known-answer tasks for the training-variant tests (rm, tailpatch).

EASY is learnable in a few dozen steps (pick the response that says the item is fine).
FLIPPED renders exactly like EASY (same title, description and fields; only the name differs)
but its labels point at the other response, so training on it harms EASY. VERDICT is a
classification task (not pairwise) so the variants' task selection can be checked.
"""

from __future__ import annotations

import dataclasses
import random

from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task
from tests.factories import classification_task, pairwise_task

EASY = pairwise_task(
    "easy_fine",
    title="Which response says the item is fine?",
    description="Answer 'A' if response A says the item is fine, 'B' if response B does.",
)
FLIPPED = dataclasses.replace(EASY, name="easy_fine_flipped")
VERDICT = classification_task(
    "item_verdict",
    labels=("yes", "no"),
    title="Does the text say the item is fine?",
    description="Answer 'yes' or 'no'.",
)
TASKS = {task.name: task for task in (EASY, FLIPPED, VERDICT)}


# Two surface forms of "the item is fine" / "the item is broken".
FORMS = (("is fine", "is broken"), ("works", "fails"))


def easy_examples(
    task: Task, n: int, seed: int, flip: bool = False, flip_forms: tuple[int, ...] = ()
) -> list[Example]:
    """EASY-style items in both surface forms; `flip` (or the form's index in `flip_forms`)
    points the label at the broken response."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        item = rng.randrange(400)
        form = rng.randrange(len(FORMS))
        good, bad = (f"item {item} {word}" for word in FORMS[form])
        good_first = rng.random() < 0.5
        first, second = (good, bad) if good_first else (bad, good)
        label = "A" if good_first else "B"
        if flip or form in flip_forms:
            label = "B" if label == "A" else "A"
        out.append(
            Example(
                task=task.name,
                id=f"{task.name}-{seed}-{i}",
                context={
                    "question": f"Is item {item} fine?",
                    RESPONSE_A: first,
                    RESPONSE_B: second,
                },
                label=label,
            )
        )
    return out


def verdict_examples(n: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        fine = rng.random() < 0.5
        text = f"item {rng.randrange(400)} is {'fine' if fine else 'broken'}"
        out.append(
            Example(VERDICT.name, {"text": text}, "yes" if fine else "no", id=f"verdict-{i}")
        )
    return out
