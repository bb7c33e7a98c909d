"""AlpacaEval leaderboard judgments (tatsu-lab/alpaca_eval): which of two answers to an
instruction is better. Data licence CC BY-NC 4.0 (non-commercial; code Apache-2.0).

**Teacher data, not human data.** `pairs.jsonl.gz` holds 65,320 judgments by LLM judges (GPT-4
family, and Claude v1 for 8 %): they become task `alpaca-eval-judgments/preference-llm-judge`
with provenance `"label_source": "llm-judge"`. `human.jsonl.gz` holds the 4 AlpacaFarm crowd
labels that survived upstream filtering: task `alpaca-eval-judgments/preference-human`,
`"label_source": "human"`. The two tasks say the same thing; only their names differ, so that a
training mixture can keep the teacher data apart (FLAMe trains on human labels only).

Source: gzip JSON Lines, streamed line by line (214 MB uncompressed; a plain `.jsonl` file given
directly also works). Each line: {"instruction", "dataset", "output_1", "output_2",
"generator_1", "generator_2", "preference", "annotator", "source_file", "source_commit",
optional "explanation", "explanation_labels", "other_judgments"}; the human file has null
generators and adds "human_annotator_index", "datasplit", "llm_preference", "llm_annotator".

One line -> one pairwise example: instruction; response A = `output_1`, response B = `output_2`.
`preference` 1 -> "A", 2 -> "B". The `weighted_alpaca_eval_gpt4_turbo` judge gives a float p in
[1, 2] = 1 + P(output_2 better): p < 1.5 -> "A", p > 1.5 -> "B", p == 1.5 -> "tie" (5 records);
the raw value is kept in provenance as `preference`, and for non-integral values also
`p_response_b_better` = p - 1. Anything else (null, 0, -1, outside [1, 2], text) is an error.
Ids hash the (instruction, output_1, output_2) triple, which is unique per file:
"alpaca-eval-judgments/<pairs|human>/<sha1 prefix>". Provenance keeps the annotator, the
generators (generator_a = output_1's model), the instruction source, the upstream file and commit,
the judge's rationale (`explanation`, whose letters `explanation_labels` maps to output_1 /
output_2, i.e. A / B) and `other_judgments` (other judges of the same triple) unchanged.

Position and reference (read before training): upstream always puts the *reference* model's
answer in `output_1` (-> response A) and the evaluated model's answer in `output_2` (-> B), so the
label is tied to position and to the reference: `weighted_alpaca_eval_gpt4_turbo` prefers
output_1 (GPT-4 Turbo) 91 % of the time, `alpaca_eval_gpt4` prefers output_2 82 % of the time
(its reference, text_davinci_003, is weak). This converter keeps the source order so that
provenance and explanations stay aligned; swap A and B at random when training
(`judging.task_format.swap_pairwise`), and split by instruction (473 instructions, about 140
records each). The instructions are AlpacaEval benchmark prompts: do not train on them a model
that will be evaluated on AlpacaEval.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judging.converters import ConversionError
from judging.task_format import Example, Task, TaskType

FORMAT = "alpaca-eval-judgments"
LICENSE = "CC BY-NC 4.0"
HUMAN_ANNOTATOR = "alpaca_farm_human"

_DESCRIPTION = (
    "Read the instruction and two responses to it. Decide which response is better: the one that "
    "follows the instruction more helpfully, accurately and completely, as a careful human "
    "evaluator would prefer. Ignore which response comes first and do not prefer a response "
    "for being longer. Answer 'A' if response A is better, 'B' if response B is better, 'tie' "
    "only if they are equally good."
)


def _task(name: str, title: str) -> Task:
    return Task(
        name=name,
        type=TaskType.PAIRWISE,
        title=title,
        description=_DESCRIPTION,
        context_fields=("instruction", "response A", "response B"),
        output_fields=("choice",),
        labels=("A", "B", "tie"),
    )


LLM_JUDGE = _task(
    f"{FORMAT}/preference-llm-judge",
    "Which response better follows the instruction? (LLM-judge labels)",
)
HUMAN = _task(
    f"{FORMAT}/preference-human",
    "Which response better follows the instruction? (human labels)",
)
TASKS = (LLM_JUDGE, HUMAN)

HUMAN_EXTRA = ("human_annotator_index", "llm_preference", "llm_annotator")


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl.gz"))


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _label(path: Path, line: int, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConversionError(path, line, "preference", f"{value!r} is not a number in [1, 2]")
    if not 1 <= value <= 2:
        raise ConversionError(path, line, "preference", f"{value!r} is outside [1, 2]")
    if value < 1.5:
        return "A"
    if value > 1.5:
        return "B"
    return "tie"


def convert_file(path: Path, **options) -> Iterator[Example]:
    human = path.name.startswith("human")
    task = HUMAN if human else LLM_JUDGE
    stem = "human" if human else path.name.split(".", 1)[0]
    seen: set[str] = set()
    line = 0
    try:
        with _open(path) as handle:
            for line, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as error:
                    raise ConversionError(path, line, "(json)", error.msg) from error
                example = _example(path, line, record, task, human, stem)
                if example.id in seen:
                    raise ConversionError(
                        path, line, "instruction", "duplicate (instruction, output_1, output_2)"
                    )
                seen.add(example.id)
                yield example
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise ConversionError(path, line + 1, "(file)", f"cannot read: {error}") from error


def _example(path: Path, line: int, record: Any, task: Task, human: bool, stem: str) -> Example:
    if not isinstance(record, dict):
        raise ConversionError(path, line, "(record)", "expected a JSON object")
    for field in ("instruction", "output_1", "output_2", "annotator"):
        if field not in record:
            raise ConversionError(path, line, field, "missing")
        if not isinstance(record[field], str):
            raise ConversionError(path, line, field, "must be text")
    if "preference" not in record:
        raise ConversionError(path, line, "preference", "missing")
    annotator = record["annotator"]
    if human != (annotator == HUMAN_ANNOTATOR):
        expected = "human" if human else "LLM-judge"
        raise ConversionError(
            path, line, "annotator", f"{annotator!r} in a file of {expected} labels"
        )
    preference = record["preference"]
    label = _label(path, line, preference)
    other = record.get("other_judgments", [])
    if not isinstance(other, list):
        raise ConversionError(path, line, "other_judgments", "must be a list")
    triple = "\0".join((record["instruction"], record["output_1"], record["output_2"]))
    digest = hashlib.sha1(triple.encode("utf-8")).hexdigest()[:16]
    provenance: dict[str, Any] = {
        "source": FORMAT,
        "license": LICENSE,
        "label_source": "human" if human else "llm-judge",
        "annotator": annotator,
        "preference": preference,
        "generator_a": record.get("generator_1"),
        "generator_b": record.get("generator_2"),
        "dataset": record.get("dataset"),
        "source_file": record.get("source_file"),
        "source_commit": record.get("source_commit"),
    }
    if not float(preference).is_integer():
        provenance["p_response_b_better"] = round(preference - 1, 6)
    for field in ("explanation", "explanation_labels"):
        if field in record:
            provenance[field] = record[field]
    if other:
        provenance["other_judgments"] = other
    if human:
        provenance["split"] = record.get("datasplit")
        provenance.update({field: record.get(field) for field in HUMAN_EXTRA})
    return Example(
        task=task.name,
        id=f"{FORMAT}/{stem}/{digest}",
        context={
            "instruction": record["instruction"],
            "response A": record["output_1"],
            "response B": record["output_2"],
        },
        label=label,
        provenance=provenance,
    )
