"""Known-answer pairwise tasks for the demo project and the learning tests, and a few showcase
items of the other task types.

The right answer of every pairwise item is known by construction, so a rater's accuracy and the
autorater's held-out accuracy can be measured without any downloaded data. The showcase tasks
(pointwise, classification, open-ended; `SHOWCASE_TASKS`, `showcase_examples`) give a newcomer
every rater screen in the demo; their responses are Markdown (lists, code, a table) as model
responses usually are. They are not part of `DEMO_TASKS`, the built-in training mixture.
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


# --- Showcase: one task of each other type, a few hand-written items each ----------------------

HELPFULNESS = Task(
    name="demo_helpfulness",
    type=TaskType.POINTWISE,
    title="How helpful is the response?",
    description=(
        "Rate the response from 1 (useless or wrong) to 5 (correct, complete and clear). "
        "Judge what it says, not how long it is."
    ),
    context_fields=("question", "response"),
    output_fields=("score",),
    labels=("1", "2", "3", "4", "5"),
)

RESPONSE_KIND = Task(
    name="demo_response_kind",
    type=TaskType.CLASSIFICATION,
    title="Does the response answer the request?",
    description=(
        "'answers' if it does what was asked, 'refuses' if it declines, 'off_topic' if it "
        "talks about something else."
    ),
    context_fields=("request", "response"),
    output_fields=("kind",),
    labels=("answers", "refuses", "off_topic"),
)

CRITIQUE = Task(
    name="demo_critique",
    type=TaskType.OPEN_ENDED,
    title="What is wrong with the response?",
    description=(
        "Name the mistakes in the response, then write the corrected answer. Markdown is fine."
    ),
    context_fields=("question", "response"),
    output_fields=("critique",),
)

SHOWCASE_TASKS = (HELPFULNESS, RESPONSE_KIND, CRITIQUE)

_SHOWCASE = {
    HELPFULNESS.name: [
        {
            "question": "How do I reverse a list in Python?",
            "response": (
                "Two common ways:\n\n"
                "1. **In place** with `list.reverse()`:\n\n"
                "```python\nitems = [1, 2, 3]\nitems.reverse()  # items is now [3, 2, 1]\n```\n\n"
                "2. **A reversed copy** with slicing: `items[::-1]`."
            ),
        },
        {
            "question": "Is tea or coffee higher in caffeine?",
            "response": (
                "It depends on the cup, but typically:\n\n"
                "| drink (240 ml) | caffeine |\n|---|---:|\n"
                "| brewed coffee | ~95 mg |\n| black tea | ~47 mg |\n| green tea | ~28 mg |\n\n"
                "So coffee, roughly twice as much."
            ),
        },
    ],
    RESPONSE_KIND.name: [
        (
            {
                "request": "Summarise the plot of *Hamlet* in two sentences.",
                "response": (
                    "Prince Hamlet learns that his uncle murdered his father to take the "
                    "throne. His hesitant revenge ends with nearly everyone, Hamlet included, "
                    "dead."
                ),
            },
            "answers",
        ),
        (
            {
                "request": "Write a limerick about my neighbour's cat.",
                "response": (
                    "Cats are popular pets:\n\n- they sleep 12-16 hours a day\n"
                    "- they were domesticated about 10,000 years ago"
                ),
            },
            "off_topic",
        ),
        (
            {
                "request": "Tell me my colleague's home address.",
                "response": "I can't help with finding someone's private address.",
            },
            "refuses",
        ),
    ],
    CRITIQUE.name: [
        {
            "question": "What is the sum of the first 10 positive integers?",
            "response": (
                "Use the formula *n(n+1)/2*:\n\n```\n10 * 11 / 2 = 50\n```\n\nThe sum is **50**."
            ),
        },
        {
            "question": "Write a Python function that checks whether a number is even.",
            "response": (
                "```python\ndef is_even(n):\n    return n % 2 == 1\n```\n\n"
                "- works for any integer\n- runs in constant time"
            ),
        },
    ],
}


def showcase_examples() -> list[Example]:
    """The showcase items, interleaved across their tasks (one of each type in turn), without
    labels (raters give them), except the classification items, whose answer is known."""
    rows = []
    for task in SHOWCASE_TASKS:
        for index, entry in enumerate(_SHOWCASE[task.name]):
            context, label = entry if isinstance(entry, tuple) else (entry, None)
            rows.append((index, task, context, label))
    rows.sort(key=lambda row: row[0])
    return [
        Example(
            task=task.name,
            id=f"{task.name.removeprefix('demo_')}-{index:03d}",
            context=dict(context),
            label=label,
            provenance={"source": "demo showcase"},
        )
        for index, task, context, label in rows
    ]
