"""USR Topical-Chat turn-level ratings (Mehri & Eskenazi, ACL 2020), as redistributed by UniEval
(maszhongming/UniEval, MIT; the original USR release's licence could not be checked, and
Topical-Chat itself is CDLA-Sharing-1.0: confirm before commercial use).

Source: `topical_chat.json`, a JSON array of {"source": <dialogue history, turns separated by
"\\n", ending "\\n\\n">, "context": <knowledge fact>, "system_id", "system_output": <response>,
"scores": {"understandability", "naturalness", "coherence", "engagingness", "groundedness",
"overall"}}. Text is lowercased and tokenised as upstream.

One record -> 6 pointwise examples, one per aspect. Each score is the mean of 3 annotators, so
the tasks use real-valued scales: understandability and groundedness 0-1 (each annotator 0/1),
naturalness, coherence and engagingness 1-3, overall 1-5. Labels are the mean rounded to 4
decimals ("0.6667"); the raw value is in provenance. The history is kept as turns: it is split on
newlines and the two speakers alternate; the speaker of the judged response is "responder" and
the other one "partner" (so the last history turn is always the partner's). Records have no
id: example ids use the record's index in the array, "usr-topical-chat/<index>/<aspect>", and
the 60 distinct histories are numbered in order of first appearance (`dialogue_index`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from judging.converters import ConversionError, load_json_array
from judging.task_format import Example, Task, TaskType

FORMAT = "usr-topical-chat"
LICENSE = (
    "MIT (UniEval redistribution); original USR licence unverified; Topical-Chat CDLA-Sharing-1.0"
)

_INTRO = (
    "Two people are chatting about a topic; the responder may use the knowledge fact shown. "
    "Read the conversation so far, the fact and the responder's next turn (text is lowercased "
    "and tokenised). "
)
# aspect -> (scale, guideline)
ASPECTS: dict[str, tuple[tuple[float, float], str]] = {
    "understandability": (
        (0, 1),
        "Is the response understandable in the context of the conversation? 1 = understandable, "
        "0 = not. Answer with the mean of three raters' 0/1 judgments, a number from 0 to 1.",
    ),
    "naturalness": (
        (1, 3),
        "Is the response natural, something a person would say? 1 = not natural, 2 = somewhat, "
        "3 = natural. Answer with the mean of three raters, a number from 1 to 3.",
    ),
    "coherence": (
        (1, 3),
        "Does the response serve as a valid continuation of the conversation (maintains it)? "
        "1 = no, 2 = somewhat, 3 = yes. Answer with the mean of three raters, from 1 to 3.",
    ),
    "engagingness": (
        (1, 3),
        "Is the response interesting or engaging (dull = 1, somewhat interesting = 2, "
        "interesting = 3)? Answer with the mean of three raters, a number from 1 to 3.",
    ),
    "groundedness": (
        (0, 1),
        "Does the response use the knowledge fact? 1 = it uses the fact, 0 = it does not. Answer "
        "with the mean of three raters' 0/1 judgments, a number from 0 to 1.",
    ),
    "overall": (
        (1, 5),
        "Overall impression of the response: 1 = very bad, 3 = neutral, 5 = very good. Answer with "
        "the mean of three raters, a number from 1 to 5.",
    ),
}
ASPECT_TASKS = {
    aspect: Task(
        name=f"{FORMAT}/{aspect}",
        type=TaskType.POINTWISE,
        title=f"Rate the {aspect} of a knowledge-grounded dialogue response",
        description=_INTRO + guide,
        context_fields=("dialogue", "fact", "response"),
        output_fields=("rating",),
        scale=scale,
    )
    for aspect, (scale, guide) in ASPECTS.items()
}
TASKS = tuple(ASPECT_TASKS.values())


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("topical_chat*.json"))


def _turns(history: str) -> list[dict[str, str]]:
    lines = [line.strip() for line in history.rstrip("\n").split("\n")]
    roles = ("responder", "partner") if len(lines) % 2 == 0 else ("partner", "responder")
    return [{"role": roles[index % 2], "content": line} for index, line in enumerate(lines)]


def _label(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def convert_file(path: Path, **options) -> Iterator[Example]:
    records = load_json_array(path)
    dialogues: dict[str, int] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ConversionError(path, str(index), "(record)", "expected a JSON object")
        for field in ("source", "context", "system_id", "system_output"):
            if field not in record:
                raise ConversionError(path, str(index), field, "missing")
            if not isinstance(record[field], str):
                raise ConversionError(path, str(index), field, "must be text")
        if not record["source"].strip():
            raise ConversionError(path, str(index), "source", "empty dialogue history")
        scores = record.get("scores")
        if not isinstance(scores, dict):
            raise ConversionError(path, str(index), "scores", "missing or not an object")
        dialogue_index = dialogues.setdefault(record["source"], len(dialogues))
        context = {
            "dialogue": _turns(record["source"]),
            "fact": record["context"].strip(),
            "response": record["system_output"].strip(),
        }
        for aspect, task in ASPECT_TASKS.items():
            field = f"scores.{aspect}"
            if aspect not in scores:
                raise ConversionError(path, str(index), field, "missing")
            value = scores[aspect]
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConversionError(path, str(index), field, f"{value!r} is not a number")
            low, high = task.scale
            if not low <= value <= high:
                raise ConversionError(
                    path, str(index), field, f"{value} outside [{low:g}, {high:g}]"
                )
            yield Example(
                task=task.name,
                id=f"{FORMAT}/{index}/{aspect}",
                context=context,
                label=_label(value),
                provenance={
                    "source": FORMAT,
                    "license": LICENSE,
                    "system": record["system_id"],
                    "dialogue_index": dialogue_index,
                    "score": value,
                    "annotators": 3,
                },
            )
