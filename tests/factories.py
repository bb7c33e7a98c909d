"""Task definitions the tests share: one factory per task type, with the values most tests
want, so a test names only what it changes (a name, a label set, its context fields)."""

from __future__ import annotations

from judging.task_format import RESPONSE_A, RESPONSE_B, Task, TaskType

LIKERT_LABELS = ("1", "2", "3", "4", "5")


def pairwise_task(
    name: str = "pairs",
    *,
    prompt_field: str = "question",
    labels: tuple[str, ...] = ("A", "B", "tie"),
    title: str = "Which response is better?",
    description: str = "Pick the better response.",
) -> Task:
    """A pairwise task: a prompt field, then the two responses; A / B / tie by default."""
    return Task(
        name=name,
        type=TaskType.PAIRWISE,
        title=title,
        description=description,
        context_fields=(prompt_field, RESPONSE_A, RESPONSE_B),
        output_fields=("choice",),
        labels=labels,
    )


def classification_task(
    name: str = "safety",
    *,
    labels: tuple[str, ...] = ("safe", "unsafe"),
    title: str = "Is the text safe?",
    description: str = "Answer safe or unsafe.",
) -> Task:
    """A classification task over one `text` field."""
    return Task(
        name=name,
        type=TaskType.CLASSIFICATION,
        title=title,
        description=description,
        context_fields=("text",),
        output_fields=("answer",),
        labels=labels,
    )


def pointwise_task(
    name: str = "likert",
    *,
    labels: tuple[str, ...] = LIKERT_LABELS,
    scale: tuple[float, float] | None = None,
    context_fields: tuple[str, ...] = ("text",),
    title: str = "Rate the text",
    description: str = "The higher, the better.",
) -> Task:
    """A pointwise task: a labelled scale (1-5 by default), or a real-valued `scale`."""
    return Task(
        name=name,
        type=TaskType.POINTWISE,
        title=title,
        description=description,
        context_fields=context_fields,
        output_fields=("score",),
        labels=() if scale is not None else labels,
        scale=scale,
    )


def open_ended_task(
    name: str = "critique",
    *,
    title: str = "Critique the response",
    description: str = "Say what is wrong.",
) -> Task:
    """An open-ended task over one `text` field: the label is free text."""
    return Task(
        name=name,
        type=TaskType.OPEN_ENDED,
        title=title,
        description=description,
        context_fields=("text",),
        output_fields=("critique",),
    )
