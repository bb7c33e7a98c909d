"""Known-answer pairwise tasks for the demo project and the learning tests.

The right answer of every item is known by construction, so a rater's accuracy and the
autorater's held-out accuracy can be measured without any downloaded data.
"""

from __future__ import annotations

import random

from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType

ARITHMETIC = Task(
    name="demo_arithmetic",
    type=TaskType.PAIRWISE,
    title="Which response answers the arithmetic question correctly?",
    description=(
        "Read the question and the two responses. Answer 'A' if response A gives the correct "
        "result, 'B' if response B does."
    ),
    context_fields=("question", RESPONSE_A, RESPONSE_B),
    output_fields=("choice",),
    labels=("A", "B", "tie"),
)

KEYWORD = Task(
    name="demo_keyword",
    type=TaskType.PAIRWISE,
    title="Which response follows the instruction's required word?",
    description=(
        "The instruction asks for a sentence that contains a required word. Answer 'A' if "
        "response A contains the required word, 'B' if response B does."
    ),
    context_fields=("instruction", RESPONSE_A, RESPONSE_B),
    output_fields=("choice",),
    labels=("A", "B", "tie"),
)

DEMO_TASKS = (ARITHMETIC, KEYWORD)

_WORDS = (
    "river apple stone cloud tiger lamp garden window bread music silver forest candle "
    "rocket pencil ocean mountain coffee bridge spider violin desert engine meadow"
).split()
# Two-word subjects and one-word endings keep every sentence the same shape, and the required
# word is written unquoted so it is the same token in the instruction and in the response.
_SUBJECTS = "The child|My neighbor|A sailor|Our teacher|A farmer|The pilot|The doctor".split("|")
_VERBS = "saw|painted|found|carried|wanted|described|remembered".split("|")
_ENDINGS = "today|again|outside|yesterday|twice|quietly".split("|")


# Every (a, b) with a single-digit sum, so every question, answer and distractor is one digit
# and all arithmetic items tokenize to the same layout (learnable by a tiny model on a CPU).
_SUM_PAIRS = [(a, b) for a in range(10) for b in range(10) if a + b <= 9]


def _arithmetic_example(rng: random.Random, index: int) -> Example:
    a, b = rng.choice(_SUM_PAIRS)
    right = a + b
    # Any other single digit, so each sum is seen with many different wrong answers.
    candidates = [digit for digit in range(10) if digit != right]
    wrong = rng.choice(candidates)
    right_first = rng.random() < 0.5
    first, second = (right, wrong) if right_first else (wrong, right)
    return Example(
        task=ARITHMETIC.name,
        id=f"arith-{index:06d}",
        context={
            "question": f"What is {a} + {b}?",
            RESPONSE_A: f"{a} + {b} = {first}",
            RESPONSE_B: f"{a} + {b} = {second}",
        },
        label="A" if right_first else "B",
        provenance={"source": "demo", "a": a, "b": b},
    )


def _sentence(rng: random.Random, noun: str) -> str:
    return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} the {noun} {rng.choice(_ENDINGS)}."


def _keyword_example(rng: random.Random, index: int) -> Example:
    required, other = rng.sample(_WORDS, 2)
    good, bad = _sentence(rng, required), _sentence(rng, other)
    good_first = rng.random() < 0.5
    first, second = (good, bad) if good_first else (bad, good)
    return Example(
        task=KEYWORD.name,
        id=f"keyword-{index:06d}",
        context={
            "instruction": f"Write one sentence that contains the word {required}.",
            RESPONSE_A: first,
            RESPONSE_B: second,
        },
        label="A" if good_first else "B",
        provenance={"source": "demo", "required": required},
    )


def generate_demo_examples(n_per_task: int, seed: int = 0) -> list[Example]:
    """`n_per_task` examples of each demo task, deterministic for a seed, interleaved."""
    rng = random.Random(seed)
    examples: list[Example] = []
    for index in range(n_per_task):
        examples.append(_arithmetic_example(rng, index))
        examples.append(_keyword_example(rng, index))
    return examples
