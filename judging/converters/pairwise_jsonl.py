"""Generic pairwise preferences in JSON Lines: {"prompt", "chosen", "rejected"} (optionally "id").

`prompt` is text or a conversation (a list of {"role", "content"} turns); `chosen` and `rejected`
are text. Other keys are ignored. One line -> one pairwise example of task
`pairwise-jsonl/preference`.

Position: the chosen response is shown as A or B by the first byte of the SHA-256 of the
record's key (its "id" when given, else its prompt, chosen and rejected texts): even -> chosen is
A (label "A"), odd -> chosen is B (label "B"). This is deterministic, balances the labels to
about 50/50 and does not depend on line order. Ids: "pairwise-jsonl/<file stem>/<id>" when the
record has an id, else "pairwise-jsonl/<file stem>/<sha1 prefix of the texts>"; a repeated id
within a file is an error.

Option (from the CLI, `--option key=value`): `license=...` is written into every example's
provenance (default "unspecified").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judging.converters import ConversionError
from judging.task_format import ContextValue, Example, Task, TaskType

FORMAT = "pairwise-jsonl"

PREFERENCE = Task(
    name=f"{FORMAT}/preference",
    type=TaskType.PAIRWISE,
    title="Which response to the prompt is better?",
    description=(
        "Read the prompt (or conversation) and two candidate responses. Decide which response a "
        "careful evaluator would prefer: the more helpful, correct, honest and harmless reply to "
        "the prompt. Ignore the order of the responses and their length as such. Answer 'A' if "
        "response A is better, 'B' if response B is better."
    ),
    context_fields=("prompt", "response A", "response B"),
    output_fields=("choice",),
    labels=("A", "B"),
)
TASKS = (PREFERENCE,)


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl"))


def _chosen_is_a(key: str) -> bool:
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2 == 0


def convert_file(path: Path, **options) -> Iterator[Example]:
    license_ = options.get("license", "unspecified")
    stem = path.name.removesuffix(".jsonl")
    seen: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ConversionError(path, line, "(json)", error.msg) from error
            example = _example(path, line, record, stem, license_)
            if example.id in seen:
                raise ConversionError(path, line, "id", f"duplicate id {example.id!r}")
            seen.add(example.id)
            yield example


def _prompt(path: Path, line: int, value: Any) -> ContextValue:
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        raise ConversionError(path, line, "prompt", "must be text or a non-empty list of turns")
    for index, turn in enumerate(value):
        if not (
            isinstance(turn, dict)
            and isinstance(turn.get("role"), str)
            and isinstance(turn.get("content"), str)
        ):
            raise ConversionError(
                path, line, f"prompt[{index}]", 'a turn must be {"role": text, "content": text}'
            )
    return [{"role": turn["role"], "content": turn["content"]} for turn in value]


def _example(path: Path, line: int, record: Any, stem: str, license_: str) -> Example:
    if not isinstance(record, dict):
        raise ConversionError(path, line, "(record)", "expected a JSON object")
    for field in ("prompt", "chosen", "rejected"):
        if field not in record:
            raise ConversionError(path, line, field, "missing")
    for field in ("chosen", "rejected"):
        if not isinstance(record[field], str):
            raise ConversionError(path, line, field, "must be text")
    prompt = _prompt(path, line, record["prompt"])
    source_id = record.get("id")
    if source_id is not None:
        if isinstance(source_id, bool) or not isinstance(source_id, str | int):
            raise ConversionError(path, line, "id", "must be text or an integer")
        source_id = str(source_id)
        if not source_id.strip():
            raise ConversionError(path, line, "id", "empty")
        key = source_id
    else:
        texts = [
            json.dumps(record["prompt"], ensure_ascii=False),
            record["chosen"],
            record["rejected"],
        ]
        key = "\0".join(texts)
    suffix = source_id if source_id is not None else hashlib.sha1(key.encode()).hexdigest()[:16]
    chosen_is_a = _chosen_is_a(key)
    first, second = (
        (record["chosen"], record["rejected"])
        if chosen_is_a
        else (record["rejected"], record["chosen"])
    )
    return Example(
        task=PREFERENCE.name,
        id=f"{FORMAT}/{stem}/{suffix}",
        context={"prompt": prompt, "response A": first, "response B": second},
        label="A" if chosen_is_a else "B",
        provenance={
            "source": FORMAT,
            "license": license_,
            "file": path.name,
            "line": line,
            "source_id": source_id,
        },
    )
