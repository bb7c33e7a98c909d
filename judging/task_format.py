"""The unified FLAMe task format: Task and Example, rendering, strict parsing, JSONL interchange.

Every judgment, human or model, is one `Example` of one `Task`. Rendering follows FLAMe
(arXiv 2407.10817, section 3.4): an INSTRUCTIONS block, a CONTEXT block and an EVALUATION block.

    INSTRUCTIONS:
    title: <task title>
    description: <what to judge and what each answer means>
    output_fields: choice

    CONTEXT:
    question: <...>
    response A: <...>
    response B: <...>

    EVALUATION:
    choice: A

The model sees everything up to and including "EVALUATION:\\n<label field>:" and is scored on
the label that follows.

The module stays whole (about 460 lines, over the ~400 guideline) and does one job: it is the single
definition of the format. The strict parser reads exactly what the renderer writes (the output
fields after the verdict included), validation and the JSONL
reader build the same Task and Example, and the web app, converters, judging and training all
import these names from this one module; a split would only put the halves behind re-exports.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

FORMAT_VERSION = "flame-v1"

# Pairwise tasks name their two judged responses with these context fields.
RESPONSE_A = "response A"
RESPONSE_B = "response B"
SWAPPED_LABELS = {"A": "B", "B": "A"}


class TaskType(StrEnum):
    PAIRWISE = "pairwise"
    POINTWISE = "pointwise"
    CLASSIFICATION = "classification"
    OPEN_ENDED = "open_ended"


class FormatError(ValueError):
    """An Example or Task that does not fit the format; the message says which field and why."""


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    name: str
    type: TaskType
    title: str
    description: str
    context_fields: tuple[str, ...]
    output_fields: tuple[str, ...]
    # Closed label space (pairwise: A, B and optionally tie; classification: its labels;
    # pointwise: the scale values as strings). Empty for open-ended tasks and for pointwise
    # tasks on a real-valued scale, which give `scale` instead.
    labels: tuple[str, ...] = ()
    # Pointwise tasks on a continuous scale: (lowest, highest).
    scale: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", TaskType(self.type))
        object.__setattr__(self, "context_fields", tuple(self.context_fields))
        object.__setattr__(self, "output_fields", tuple(self.output_fields))
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        if self.scale is not None:
            low, high = (float(bound) for bound in self.scale)
            if not low < high:
                raise FormatError(f"task {self.name!r}: field 'scale' must be [low, high]")
            object.__setattr__(self, "scale", (low, high))
        if not self.name:
            raise FormatError("task: field 'name' is empty")
        if not self.output_fields:
            raise FormatError(f"task {self.name!r}: field 'output_fields' is empty")
        needs_labels = self.type is not TaskType.OPEN_ENDED and self.scale is None
        if needs_labels and not self.labels:
            raise FormatError(f"task {self.name!r}: field 'labels' is empty for a {self.type} task")
        if self.scale is not None and self.type is not TaskType.POINTWISE:
            raise FormatError(f"task {self.name!r}: only pointwise tasks have a 'scale'")
        if self.type is TaskType.PAIRWISE:
            missing = {RESPONSE_A, RESPONSE_B} - set(self.context_fields)
            if missing:
                raise FormatError(
                    f"task {self.name!r}: pairwise context_fields lack {sorted(missing)}"
                )
            if not {"A", "B"} <= set(self.labels):
                raise FormatError(f"task {self.name!r}: pairwise labels must include A and B")

    @property
    def label_field(self) -> str:
        """The output field that carries the verdict (the first output field)."""
        return self.output_fields[0]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["type"] = str(self.type)
        data["context_fields"] = list(self.context_fields)
        data["output_fields"] = list(self.output_fields)
        data["labels"] = list(self.labels)
        data["scale"] = list(self.scale) if self.scale is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        required = ("name", "type", "title", "description", "context_fields", "output_fields")
        for field in required:
            if field not in data:
                raise FormatError(f"task: missing field {field!r}")
        try:
            task_type = TaskType(data["type"])
        except ValueError as error:
            raise FormatError(
                f"task: field 'type' is {data['type']!r}, not one of {[t.value for t in TaskType]}"
            ) from error
        return cls(
            name=str(data["name"]),
            type=task_type,
            title=str(data["title"]),
            description=str(data["description"]),
            context_fields=tuple(data["context_fields"]),
            output_fields=tuple(data["output_fields"]),
            labels=tuple(data.get("labels") or ()),
            scale=tuple(data["scale"]) if data.get("scale") is not None else None,
        )


# A context value is text, or a multi-turn conversation: a list of {"role", "content"} turns.
Turn = dict[str, str]
ContextValue = str | list[Turn]


@dataclasses.dataclass(frozen=True, slots=True)
class Example:
    task: str
    context: dict[str, ContextValue]
    label: str | None = None
    reference: str | None = None
    id: str | None = None
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Every rater's label where the source has several (label -> count); `label` is then the
    # aggregate (majority or adjudicated).
    label_distribution: dict[str, int] | None = None
    # The other output fields' values (e.g. {"explanation": "..."}), rendered after the verdict.
    outputs: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "task": self.task,
            "context": dict(self.context),
            "reference": self.reference,
            "label": self.label,
            "label_distribution": self.label_distribution,
            "provenance": dict(self.provenance),
        }
        if self.outputs:  # written only when present: older files and hashes stay the same
            data["outputs"] = dict(self.outputs)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Example:
        for field in ("task", "context"):
            if field not in data:
                raise FormatError(f"example: missing field {field!r}")
        if not isinstance(data["context"], dict):
            raise FormatError("example: field 'context' must be an object of field -> text")
        label = data.get("label")
        distribution = data.get("label_distribution")
        if distribution is not None and not isinstance(distribution, dict):
            raise FormatError(
                "example: field 'label_distribution' must be an object label -> count"
            )
        provenance = data.get("provenance")
        if provenance is not None and not isinstance(provenance, dict):
            raise FormatError("example: field 'provenance' must be an object")
        outputs = data.get("outputs")
        if outputs is not None and not (
            isinstance(outputs, dict) and all(isinstance(v, str) for v in outputs.values())
        ):
            raise FormatError("example: field 'outputs' must be an object of field -> text")
        return cls(
            task=str(data["task"]),
            context={str(k): _context_value(str(k), v) for k, v in data["context"].items()},
            label=None if label is None else str(label),
            reference=None if data.get("reference") is None else str(data["reference"]),
            id=None if data.get("id") is None else str(data["id"]),
            provenance=dict(provenance or {}),
            label_distribution=(
                {str(k): int(v) for k, v in distribution.items()} if distribution else None
            ),
            outputs={str(k): v for k, v in outputs.items()} if outputs else None,
        )


def _context_value(field: str, value: Any) -> ContextValue:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        turns = []
        for index, turn in enumerate(value):
            if not (
                isinstance(turn, dict)
                and isinstance(turn.get("role"), str)
                and isinstance(turn.get("content"), str)
            ):
                raise FormatError(
                    f"example: context field {field!r} turn {index} must be "
                    '{"role": text, "content": text}'
                )
            turns.append({"role": turn["role"], "content": turn["content"]})
        return turns
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FormatError(f"example: context field {field!r} must be text or a list of turns")


def validate_example(task: Task, example: Example) -> None:
    """Raise FormatError if the example does not fit its task."""
    if example.task != task.name:
        raise FormatError(f"example {example.id!r}: task {example.task!r} is not {task.name!r}")
    for field in task.context_fields:
        if field not in example.context:
            raise FormatError(f"example {example.id!r}: context lacks field {field!r}")
    if example.label is not None and task.labels and example.label not in task.labels:
        raise FormatError(
            f"example {example.id!r}: label {example.label!r} not in {list(task.labels)}"
        )
    if example.label is not None and task.scale is not None:
        try:
            value = float(example.label)
        except ValueError as error:
            raise FormatError(
                f"example {example.id!r}: label {example.label!r} is not a number"
            ) from error
        low, high = task.scale
        if not low <= value <= high:
            raise FormatError(
                f"example {example.id!r}: label {example.label!r} outside scale [{low}, {high}]"
            )


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def render_instructions(task: Task) -> str:
    return (
        "INSTRUCTIONS:\n"
        f"title: {_one_line(task.title)}\n"
        f"description: {_one_line(task.description)}\n"
        f"output_fields: {', '.join(task.output_fields)}\n"
    )


def render_value(value: ContextValue) -> str:
    """Text as is; a conversation as one "role: content" line per turn."""
    if isinstance(value, str):
        return _one_line(value)
    return "\n" + "\n".join(f"{turn['role']}: {_one_line(turn['content'])}" for turn in value)


def render_context(task: Task, example: Example) -> str:
    lines = ["CONTEXT:"]
    for field in task.context_fields:
        lines.append(f"{field}: {render_value(example.context.get(field, ''))}")
    if example.reference:
        lines.append(f"reference: {_one_line(example.reference)}")
    return "\n".join(lines) + "\n"


def render_prompt(task: Task, example: Example) -> str:
    """INSTRUCTIONS + CONTEXT + the start of EVALUATION, ending at the label field's colon."""
    return (
        render_instructions(task)
        + "\n"
        + render_context(task, example)
        + "\nEVALUATION:\n"
        + f"{task.label_field}:"
    )


def render_target(label: str) -> str:
    """The text the model is trained to produce after `render_prompt`."""
    return f" {label}"


def render_outputs(task: Task, example: Example) -> str:
    """The EVALUATION lines after the verdict: "\n<field>: <value>" for each later output
    field the example holds (an explanation, a critique); "" when it holds none."""
    outputs = example.outputs or {}
    return "".join(
        f"\n{field}: {' '.join(outputs[field].split())}"
        for field in task.output_fields[1:]
        if outputs.get(field)
    )


def render_example(task: Task, example: Example) -> str:
    """The full FLAMe text (prompt, target and any later output fields), as stored and shown."""
    if example.label is None:
        return render_prompt(task, example)
    return (
        render_prompt(task, example) + render_target(example.label) + render_outputs(task, example)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedEvaluation:
    valid: bool
    fields: dict[str, str]
    error: str | None = None

    @property
    def label(self) -> str | None:
        return self.fields.get("__label__")


def parse_evaluation(task: Task, text: str) -> ParsedEvaluation:
    """Strictly parse an EVALUATION block ("field: value" lines) produced by a model.

    Unparseable text is reported invalid with the reason; it is never mapped to a label.
    """
    body = text.split("EVALUATION:", 1)[-1]
    fields: dict[str, str] = {}
    for raw_line in body.strip().splitlines():
        if not raw_line.strip():
            continue
        name, sep, value = raw_line.partition(":")
        if not sep:
            return ParsedEvaluation(False, fields, f"line without 'field:' {raw_line[:40]!r}")
        fields[name.strip()] = value.strip()
    if task.label_field not in fields:
        return ParsedEvaluation(False, fields, f"missing output field {task.label_field!r}")
    label = fields[task.label_field]
    if task.labels and label not in task.labels:
        return ParsedEvaluation(False, fields, f"label {label!r} not in {list(task.labels)}")
    if task.scale is not None:
        try:
            value = float(label)
        except ValueError:
            return ParsedEvaluation(False, fields, f"label {label!r} is not a number")
        if not task.scale[0] <= value <= task.scale[1]:
            return ParsedEvaluation(False, fields, f"label {label!r} outside {list(task.scale)}")
    return ParsedEvaluation(True, {**fields, "__label__": label})


@dataclasses.dataclass(frozen=True, slots=True)
class ParseReport:
    parsed: list[ParsedEvaluation]
    invalid: int
    reasons: dict[str, int]


def parse_evaluations(task: Task, texts: Iterable[str]) -> ParseReport:
    """Parse many model outputs; invalid ones are counted (by reason), never mapped to a label."""
    parsed = [parse_evaluation(task, text) for text in texts]
    reasons: dict[str, int] = {}
    for result in parsed:
        if not result.valid:
            # The reason without the quoted output, e.g. "missing output field".
            key = (result.error or "invalid").split("'")[0].split("[")[0].strip()
            reasons[key] = reasons.get(key, 0) + 1
    return ParseReport(parsed, sum(not p.valid for p in parsed), reasons)


def swap_pairwise(example: Example) -> Example:
    """The same pairwise example with its two responses (and its label) swapped."""
    context = dict(example.context)
    context[RESPONSE_A] = example.context[RESPONSE_B]
    context[RESPONSE_B] = example.context[RESPONSE_A]
    label = SWAPPED_LABELS.get(example.label, example.label) if example.label else example.label
    return dataclasses.replace(example, context=context, label=label)


# --- JSONL interchange -----------------------------------------------------------------------
# One Example per line. The first line of a task carries the whole task definition under
# "task"; later lines of the same task may carry just its name.


def write_jsonl(path: str | Path, tasks: Iterable[Task], examples: Iterable[Example]) -> int:
    by_name = {task.name: task for task in tasks}
    written_tasks: set[str] = set()
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for example in examples:
            line = example.to_dict()
            line["format_version"] = FORMAT_VERSION
            if example.task not in written_tasks:
                line["task"] = by_name[example.task].to_dict()
                written_tasks.add(example.task)
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def write_jsonl_atomic(
    path: str | Path, tasks: Iterable[Task], examples: Iterable[Example]
) -> dict[str, int]:
    """Stream examples to PATH through a temporary file renamed at the end: an error part-way
    leaves no output. Returns the number of examples per task."""
    path = Path(path)
    counts: dict[str, int] = {}

    def counted() -> Iterator[Example]:
        for example in examples:
            counts[example.task] = counts.get(example.task, 0) + 1
            yield example

    temporary = path.with_name(f".{path.name}.partial")
    try:
        write_jsonl(temporary, tasks, counted())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return counts


def iter_jsonl(path: str | Path) -> Iterator[tuple[Task, Example]]:
    """Stream (task, example) pairs; a bad line raises FormatError naming file and line."""
    tasks: dict[str, Task] = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                data = json.loads(raw)
                if not isinstance(data, dict):
                    raise FormatError("line is not a JSON object")
                task_ref = data.get("task")
                if isinstance(task_ref, dict):
                    task = Task.from_dict(task_ref)
                    tasks[task.name] = task
                elif isinstance(task_ref, str) and task_ref in tasks:
                    task = tasks[task_ref]
                else:
                    raise FormatError(f"field 'task': unknown task {task_ref!r}")
                example = Example.from_dict({**data, "task": task.name})
                validate_example(task, example)
            except (json.JSONDecodeError, FormatError) as error:
                raise FormatError(f"{where}: {error}") from error
            yield task, example


def read_jsonl(path: str | Path) -> tuple[dict[str, Task], list[Example]]:
    tasks: dict[str, Task] = {}
    examples: list[Example] = []
    for task, example in iter_jsonl(path):
        tasks[task.name] = task
        examples.append(example)
    return tasks, examples
