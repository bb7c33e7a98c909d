"""FastChat llm_judge data (lm-sys/FastChat): MT-bench and Vicuna-bench prompts (Apache-2.0)

Source: `<bench>/question.jsonl` for bench mt_bench and vicuna_bench, lines {"question_id",
"category", "turns": ["<user turn 1>", ...], "reference": [...] (optional, MT-bench only)}, and
`<bench>/reference_answer/gpt-4.jsonl`, lines {"question_id", "answer_id", "model_id",
"choices": [{"index", "turns": [...]}], "tstamp"}.

There are no human labels. One question -> one open-ended example with `label` None, for
generating responses to annotate side by side: the user turns are kept as a list of user turns
(MT-bench's second turn is asked after the assistant answered the first), and the GPT-4 reference
answer, where there is one (30 MT-bench and 10 Vicuna-bench questions), becomes `reference`
("turn 1: ...", "turn 2: ..." for two turns). The short inline `reference` of 39 MT-bench
questions is kept in provenance as `inline_reference`. The reference answers are written by
GPT-4, so OpenAI's terms may apply to them. 80 + 80 examples; ids are
"fastchat-llm-judge/<bench>/<question_id>".

`judge_prompts.jsonl` holds the 8 LLM-as-a-judge prompt templates, not examples: source_files
leaves it out, and convert_file refuses it and any other file that is not a question.jsonl.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judging.converters import ConversionError
from judging.task_format import Example, Task, TaskType

FORMAT = "fastchat-llm-judge"
LICENSE = "Apache-2.0"
REFERENCE_FILE = Path("reference_answer") / "gpt-4.jsonl"

MT_BENCH = Task(
    name="fastchat-llm-judge/mt-bench-response",
    type=TaskType.OPEN_ENDED,
    title="Answer the user in a two-turn conversation (MT-bench)",
    description=(
        "The conversation lists the user's two turns: the second is asked after the assistant "
        "has answered the first. Write the assistant's answer to each turn. A good answer "
        "follows the instructions and is helpful, relevant, accurate, deep, creative and as "
        "detailed as the question needs; for math, reasoning and coding questions it must be "
        "correct. Where a reference answer is given, it is a GPT-4 answer to compare against, "
        "not a human judgment."
    ),
    context_fields=("conversation",),
    output_fields=("response",),
)
VICUNA_BENCH = Task(
    name="fastchat-llm-judge/vicuna-bench-response",
    type=TaskType.OPEN_ENDED,
    title="Answer the user's question (Vicuna-bench)",
    description=(
        "Write the assistant's answer to the user's question. A good answer is helpful, "
        "relevant, accurate, deep, creative and as detailed as the question needs; for math "
        "and coding questions it must be correct. Where a reference answer is given, it is a "
        "GPT-4 answer to compare against, not a human judgment."
    ),
    context_fields=("conversation",),
    output_fields=("response",),
)
TASKS = (MT_BENCH, VICUNA_BENCH)
BENCHES = {"mt_bench": MT_BENCH, "vicuna_bench": VICUNA_BENCH}


def source_files(folder: Path) -> list[Path]:
    return [folder / bench / "question.jsonl" for bench in BENCHES if (folder / bench).is_dir()]


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ConversionError(path, line_number, "(json)", error.msg) from error
            if not isinstance(record, dict):
                raise ConversionError(path, line_number, "(record)", "expected an object")
            yield line_number, record


def _question_id(path: Path, line: int, record: dict[str, Any]) -> int:
    value = record.get("question_id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConversionError(path, line, "question_id", "missing or not an integer")
    return value


def _texts(path: Path, line: int, value: Any, field: str) -> list[str]:
    if not (isinstance(value, list) and value and all(isinstance(t, str) for t in value)):
        raise ConversionError(path, line, field, "expected a non-empty list of texts")
    return value


def _references(path: Path) -> dict[int, tuple[int, list[str]]]:
    """question_id -> (line, answer turns) from a reference_answer file."""
    answers: dict[int, tuple[int, list[str]]] = {}
    for line, record in _lines(path):
        question_id = _question_id(path, line, record)
        if question_id in answers:
            raise ConversionError(path, line, "question_id", f"{question_id} appears twice")
        choices = record.get("choices")
        if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
            raise ConversionError(path, line, "choices", "expected a non-empty list of choices")
        answers[question_id] = (line, _texts(path, line, choices[0].get("turns"), "choices.turns"))
    return answers


def _render_reference(turns: list[str]) -> str:
    if len(turns) == 1:
        return turns[0]
    return "\n\n".join(f"turn {number}: {turn}" for number, turn in enumerate(turns, start=1))


def convert_file(path: Path, **options) -> Iterator[Example]:
    if path.name != "question.jsonl" or path.parent.name not in BENCHES:
        raise ConversionError(
            path,
            1,
            "(file)",
            "expected mt_bench/question.jsonl or vicuna_bench/question.jsonl "
            "(judge prompt templates and reference answers are not examples)",
        )
    bench = path.parent.name
    task = BENCHES[bench]
    reference_path = path.parent / REFERENCE_FILE
    references = _references(reference_path) if reference_path.exists() else {}
    seen: set[int] = set()
    for line, record in _lines(path):
        question_id = _question_id(path, line, record)
        if question_id in seen:
            raise ConversionError(path, line, "question_id", f"{question_id} appears twice")
        seen.add(question_id)
        if not isinstance(record.get("category"), str):
            raise ConversionError(path, line, "category", "missing or not text")
        turns = _texts(path, line, record.get("turns"), "turns")
        provenance: dict[str, Any] = {
            "source": "fastchat-llm-judge",
            "benchmark": bench,
            "question_id": question_id,
            "category": record["category"],
            "license": LICENSE,
        }
        if "reference" in record:
            provenance["inline_reference"] = _texts(path, line, record["reference"], "reference")
        reference = None
        if question_id in references:
            reference_line, answer = references[question_id]
            if len(answer) != len(turns):
                raise ConversionError(
                    reference_path,
                    reference_line,
                    "choices.turns",
                    f"{len(answer)} answer turns for a {len(turns)}-turn question",
                )
            reference = _render_reference(answer)
            provenance["reference_model"] = "gpt-4"
        yield Example(
            task=task.name,
            id=f"{FORMAT}/{bench}/{question_id}",
            context={"conversation": [{"role": "user", "content": turn} for turn in turns]},
            reference=reference,
            provenance=provenance,
        )
    for question_id, (reference_line, _) in references.items():
        if question_id not in seen:
            raise ConversionError(
                reference_path, reference_line, "question_id", f"no question {question_id}"
            )
