"""What a judge returns: a `Verdict` (label probabilities, both orders) or a `Generation`.

Plain dataclasses with no JAX, so the web process and the evaluation package can read them
without loading the model code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from judging.task_format import FORMAT_VERSION


@dataclasses.dataclass
class Verdict:
    example_id: str | None
    task: str
    label: str | None
    probabilities: dict[str, float]
    confidence: float
    order_probabilities: dict[str, dict[str, float]]
    consistent: bool | None
    format_version: str = FORMAT_VERSION
    valid: bool = True
    # Pointwise tasks with numeric labels: the probability-weighted score.
    expected_score: float | None = None
    # Why a verdict is invalid (None when valid).
    error: str | None = None
    # Generated after the verdict when the checkpoint was trained to give one (its metadata's
    # "explains" names the task): the later output fields' text, e.g. {"explanation": "..."}.
    explanation: str | None = None
    outputs: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Generation:
    """A greedy continuation of an example's prompt, parsed strictly as the EVALUATION block."""

    example_id: str | None
    task: str
    text: str
    token_ids: list[int]
    finished: bool  # stopped at EOS (False: hit max_new_tokens)
    valid: bool
    label: str | None
    fields: dict[str, str]
    error: str | None = None
    format_version: str = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
