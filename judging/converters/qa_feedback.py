"""QA-Feedback (allenai/FineGrainedRLHF): fine-grained human feedback on long-form QA (Apache-2.0)

Source: a JSON array per split (`dev_feedback.json`), records {"question", "passages":
[[title, sentence 1, sentence 2, ...], ...], "gold", "prediction 1".."prediction 4",
"feedback": {"errors": [{"error type", "explanation", "start", "end"}], "missing-info":
[{"error type", "passage_id", "sentence_id": [...]}], "corrected-prediction"},
"preference": [6 values]}. `start`/`end` are character offsets into `prediction 1`;
`passage_id` counts passages from 1 and `sentence_id` indexes the passage list (0 = its title).

One record (question) -> several examples, all with `gold` as the reference:
  * 6 pairwise examples (`qa-feedback/preference`), one per pair in the upstream order
    1v2, 1v3, 1v4, 2v3, 2v4, 3v4; preference 1 -> "A" (first of the pair), 2 -> "B", 0 -> "tie".
  * one classification example per error span of `prediction 1` (`qa-feedback/error-type`):
    the span text and the whole response, labelled with its error type (5 types).
  * one classification example per missing-information mark (`qa-feedback/missing-info`): the
    marked passage sentences and the response, labelled with the kind of missing information.
  * one open-ended example (`qa-feedback/corrected-response`) whose label is the human-corrected
    `prediction 1`, only where `corrected-prediction` is non-empty.
The dev file gives 3,000 + 1,373 + 842 + 487 examples. Ids are
"qa-feedback/<file stem>/<record index>/<suffix>".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judging.converters import ConversionError, load_json_array
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType

FORMAT = "qa-feedback"
LICENSE = "Apache-2.0"

PREFERENCE = Task(
    name="qa-feedback/preference",
    type=TaskType.PAIRWISE,
    title="Which answer to the question is better?",
    description=(
        "Read the question and the Wikipedia passages, then the two long-form answers. Judge "
        "overall quality: an answer is better when its statements are relevant to the question, "
        "not repeated and coherent, are correct and verifiable from the passages, and when it "
        "covers the answers and the important supporting information the passages give. Answer "
        "'A' if response A is better, 'B' if response B is better, 'tie' if neither is better."
    ),
    context_fields=("question", "passages", RESPONSE_A, RESPONSE_B),
    output_fields=("choice",),
    labels=("A", "B", "tie"),
)
ERROR_TYPE = Task(
    name="qa-feedback/error-type",
    type=TaskType.CLASSIFICATION,
    title="What kind of error is the marked span of the answer?",
    description=(
        "Read the question, the Wikipedia passages and the answer; a span of the answer has been "
        "marked as an error. Say which error it is. 'Irrelevant': the span does not help answer "
        "the question. 'Redundant': the span repeats information the answer already gives. "
        "'Incoherent': the span is ungrammatical, does not make sense or does not fit the rest "
        "of the answer. 'Unverifiable': the span states facts the passages do not support. "
        "'Wrong-Grounding': the span states facts that contradict the passages or misuse them."
    ),
    context_fields=("question", "passages", "response", "marked span"),
    output_fields=("error type",),
    labels=("Irrelevant", "Redundant", "Incoherent", "Unverifiable", "Wrong-Grounding"),
)
MISSING_INFO = Task(
    name="qa-feedback/missing-info",
    type=TaskType.CLASSIFICATION,
    title="What kind of information did the answer leave out?",
    description=(
        "Read the question, the Wikipedia passages and the answer; the passage sentences shown "
        "as 'missing information' hold information the answer should have included. Say how "
        "important it is. 'Missing-Answer': the sentences answer the question (or one of its "
        "interpretations) and the answer omits it. 'Missing-Major-Auxiliary': the sentences give "
        "important supporting information needed to understand the answer. "
        "'Missing-Minor-Auxiliary': the sentences give helpful but non-essential detail."
    ),
    context_fields=("question", "passages", "response", "missing information"),
    output_fields=("missing information type",),
    labels=("Missing-Answer", "Missing-Major-Auxiliary", "Missing-Minor-Auxiliary"),
)
CORRECTED = Task(
    name="qa-feedback/corrected-response",
    type=TaskType.OPEN_ENDED,
    title="Correct the answer to the question",
    description=(
        "Read the question, the Wikipedia passages and the answer. Rewrite the answer with as "
        "few edits as possible so that it is relevant, not repetitive, coherent, correct and "
        "verifiable from the passages, and complete: delete irrelevant, redundant or wrong "
        "statements, fix wrong facts and add the missing answers and important information."
    ),
    context_fields=("question", "passages", "response"),
    output_fields=("corrected response",),
)
TASKS = (PREFERENCE, ERROR_TYPE, MISSING_INFO, CORRECTED)
PAIRS = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
PREFERENCE_LABELS = {0: "tie", 1: "A", 2: "B"}


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*_feedback.json"))


def _text(path: Path, where: str, record: dict[str, Any], field: str) -> str:
    if field not in record:
        raise ConversionError(path, where, field, "missing")
    if not isinstance(record[field], str):
        raise ConversionError(path, where, field, f"expected text, got {record[field]!r:.60}")
    return record[field]


def _int(path: Path, where: str, record: dict[str, Any], field: str) -> int:
    if field not in record:
        raise ConversionError(path, where, field, "missing")
    value = record[field]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConversionError(path, where, field, f"expected an integer, got {value!r:.60}")
    return value


def _list(path: Path, where: str, record: dict[str, Any], field: str) -> list[Any]:
    if field not in record:
        raise ConversionError(path, where, field, "missing")
    if not isinstance(record[field], list):
        raise ConversionError(path, where, field, f"expected a list, got {record[field]!r:.60}")
    return record[field]


def _passages(path: Path, where: str, record: dict[str, Any]) -> list[list[str]]:
    passages = _list(path, where, record, "passages")
    for number, passage in enumerate(passages, start=1):
        if not (passage and isinstance(passage, list) and all(isinstance(s, str) for s in passage)):
            raise ConversionError(
                path, where, "passages", f"passage {number} is not a list [title, sentences...]"
            )
    return passages


def _render_passages(passages: list[list[str]]) -> str:
    return "\n\n".join(
        f"passage {number} ({passage[0]}): {' '.join(passage[1:])}"
        for number, passage in enumerate(passages, start=1)
    )


def convert_file(path: Path, **options) -> Iterator[Example]:
    split = path.stem.removesuffix("_feedback")
    records = load_json_array(path)
    for index, record in enumerate(records):
        yield from _convert_record(path, split, index, record)


def _convert_record(path: Path, split: str, index: int, record: Any) -> Iterator[Example]:
    where = str(index)
    if not isinstance(record, dict):
        raise ConversionError(path, where, "(record)", "expected an object")
    question = _text(path, where, record, "question")
    gold = _text(path, where, record, "gold")
    passages = _passages(path, where, record)
    predictions = {n: _text(path, where, record, f"prediction {n}") for n in range(1, 5)}
    preference = _list(path, where, record, "preference")
    if len(preference) != len(PAIRS):
        raise ConversionError(
            path, where, "preference", f"expected {len(PAIRS)} values, got {len(preference)}"
        )
    for value in preference:
        if isinstance(value, bool) or value not in PREFERENCE_LABELS:
            raise ConversionError(path, where, "preference", f"{value!r} is not 0, 1 or 2")
    feedback = record.get("feedback")
    if not isinstance(feedback, dict):
        raise ConversionError(path, where, "feedback", "missing or not an object")
    errors = _list(path, where, feedback, "errors")
    missing = _list(path, where, feedback, "missing-info")
    corrected = _text(path, where, feedback, "corrected-prediction")

    base_id = f"{FORMAT}/{split}/{index}"
    shown_passages = _render_passages(passages)
    provenance = {"source": FORMAT, "split": split, "record": index, "license": LICENSE}
    for (first, second), value in zip(PAIRS, preference, strict=True):
        yield Example(
            task=PREFERENCE.name,
            id=f"{base_id}/pair-{first}v{second}",
            context={
                "question": question,
                "passages": shown_passages,
                RESPONSE_A: predictions[first],
                RESPONSE_B: predictions[second],
            },
            label=PREFERENCE_LABELS[value],
            reference=gold,
            provenance={**provenance, "pair": [f"prediction {first}", f"prediction {second}"]},
        )

    response = predictions[1]
    for number, error in enumerate(errors):
        error_where = f"{index} feedback.errors[{number}]"
        if not isinstance(error, dict):
            raise ConversionError(path, error_where, "(error)", "expected an object")
        error_type = _text(path, error_where, error, "error type")
        if error_type not in ERROR_TYPE.labels:
            raise ConversionError(
                path, error_where, "error type", f"unknown error type {error_type!r}"
            )
        start = _int(path, error_where, error, "start")
        end = _int(path, error_where, error, "end")
        if not 0 <= start < end <= len(response):
            raise ConversionError(
                path,
                error_where,
                "start",
                f"span [{start}, {end}) is not inside prediction 1 ({len(response)} characters)",
            )
        yield Example(
            task=ERROR_TYPE.name,
            id=f"{base_id}/error-{number}",
            context={
                "question": question,
                "passages": shown_passages,
                "response": response,
                "marked span": response[start:end],
            },
            label=error_type,
            reference=gold,
            provenance={
                **provenance,
                "start": start,
                "end": end,
                "explanation": error.get("explanation") or "",
            },
        )

    for number, mark in enumerate(missing):
        mark_where = f"{index} feedback.missing-info[{number}]"
        if not isinstance(mark, dict):
            raise ConversionError(path, mark_where, "(mark)", "expected an object")
        mark_type = _text(path, mark_where, mark, "error type")
        if mark_type not in MISSING_INFO.labels:
            raise ConversionError(
                path, mark_where, "error type", f"unknown missing-info type {mark_type!r}"
            )
        passage_id = _int(path, mark_where, mark, "passage_id")
        if not 1 <= passage_id <= len(passages):
            raise ConversionError(
                path, mark_where, "passage_id", f"{passage_id} is not in 1..{len(passages)}"
            )
        passage = passages[passage_id - 1]
        sentence_ids = _list(path, mark_where, mark, "sentence_id")
        if not sentence_ids:
            raise ConversionError(path, mark_where, "sentence_id", "empty")
        for sentence_id in sentence_ids:
            if isinstance(sentence_id, bool) or not isinstance(sentence_id, int):
                raise ConversionError(path, mark_where, "sentence_id", f"{sentence_id!r}")
            if not 0 <= sentence_id < len(passage):
                raise ConversionError(
                    path,
                    mark_where,
                    "sentence_id",
                    f"{sentence_id} is not in 0..{len(passage) - 1} of passage {passage_id}",
                )
        yield Example(
            task=MISSING_INFO.name,
            id=f"{base_id}/missing-{number}",
            context={
                "question": question,
                "passages": shown_passages,
                "response": response,
                "missing information": " ".join(passage[s] for s in sentence_ids),
            },
            label=mark_type,
            reference=gold,
            provenance={**provenance, "passage_id": passage_id, "sentence_id": sentence_ids},
        )

    if corrected.strip():
        yield Example(
            task=CORRECTED.name,
            id=f"{base_id}/corrected",
            context={"question": question, "passages": shown_passages, "response": response},
            label=corrected,
            reference=gold,
            provenance=provenance,
        )
