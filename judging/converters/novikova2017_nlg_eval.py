"""Novikova et al. 2017 "Why We Need New Evaluation Metrics for NLG" (jeknov/EMNLP_17_submission):
crowd ratings of data-to-text outputs for restaurant and hotel dialogue acts (MIT).

Source: `emnlp_data_medians.csv`, a CSV with a header. Used columns: `dataset` (SFRES, SFHOT,
BAGEL), `system` (LOLS, WEN, Dusek), `mr_type`, `mr` (the meaning representation, e.g.
`inform(name=none,area=citycentre,near='X')`), `sys_ref` (the system output, lowercased, some slot
values delexicalised as `x`), `informativeness`, `naturalness`, `quality` (the median of 3 crowd
ratings on a 1-6 scale), `domain`. The automatic-metric and binned columns are not used.

One CSV row -> 3 pointwise examples, one per rated attribute. The medians include half points
(e.g. 4.5, where a median fell between two ratings), so the labels are the 11 values
1, 1.5, ..., 6; any other value is an error. The file has no id column: example ids use the data
row number (1 = the first row after the header), "novikova2017-nlg-eval/row<n>/<attribute>";
errors name the physical CSV line. There is no upstream split.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from judging.converters import ConversionError
from judging.task_format import Example, Task, TaskType

FORMAT = "novikova2017-nlg-eval"
LICENSE = "MIT"
LABELS = ("1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5", "5.5", "6")
REQUIRED = ("dataset", "system", "mr_type", "mr", "sys_ref", "domain")

_INTRO = (
    "A dialogue system must say the content of a meaning representation (MR): a dialogue act "
    "such as inform or confirm with slot=value pairs about a restaurant or hotel. Read the MR "
    "and the system's utterance (lowercased; some names and values are replaced by 'x', matching "
    "'X' in the MR; do not penalise that). "
)
_SCALE = (
    " Answer with a number from 1 to 6: 1 = very poor, 6 = excellent; half points (e.g. 4.5) mean "
    "the raters' median fell between two scale points."
)
_GUIDE = {
    "informativeness": (
        "Rate informativeness: does the utterance give all the information in the MR, and only "
        "that? 6 = every slot of the MR is expressed correctly with nothing wrong or invented; "
        "1 = most of the information is missing or wrong."
    ),
    "naturalness": (
        "Rate naturalness: could the utterance have been said by a native speaker? 6 = fluent, "
        "natural English; 1 = ungrammatical or clearly machine-like. Judge the wording only, not "
        "whether it matches the MR."
    ),
    "quality": (
        "Rate overall quality: how good is the utterance as a whole, taking grammar, fluency, "
        "clarity and how well it conveys the MR together? 6 = an excellent reply; 1 = unusable."
    ),
}
ATTRIBUTE_TASKS = {
    attribute: Task(
        name=f"{FORMAT}/{attribute}",
        type=TaskType.POINTWISE,
        title=f"Rate the {attribute} of a data-to-text dialogue utterance (1-6)",
        description=_INTRO + _GUIDE[attribute] + _SCALE,
        context_fields=("meaning representation", "utterance"),
        output_fields=("rating",),
        labels=LABELS,
    )
    for attribute in ("informativeness", "naturalness", "quality")
}
TASKS = tuple(ATTRIBUTE_TASKS.values())


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("emnlp_data_medians*.csv"))


def _label(value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return None
    text = str(int(number)) if number.is_integer() else str(number)
    return text if text in LABELS else None


def convert_file(path: Path, **options) -> Iterator[Example]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column in (*REQUIRED, *ATTRIBUTE_TASKS):
            if column not in header:
                raise ConversionError(path, 1, column, "column missing from the header")
        line = reader.line_num
        for row_number, row in enumerate(reader, start=1):
            start, line = line + 1, reader.line_num
            for column in (*REQUIRED, *ATTRIBUTE_TASKS):
                if row.get(column) is None:
                    raise ConversionError(path, start, column, "missing (short row)")
            if None in row:
                raise ConversionError(path, start, "(row)", "more fields than the header")
            if not row["sys_ref"].strip():
                raise ConversionError(path, start, "sys_ref", "empty system output")
            provenance = {
                "source": FORMAT,
                "license": LICENSE,
                "dataset": row["dataset"],
                "system": row["system"],
                "mr_type": row["mr_type"],
                "domain": row["domain"],
                "row": row_number,
            }
            for attribute, task in ATTRIBUTE_TASKS.items():
                label = _label(row[attribute])
                if label is None:
                    raise ConversionError(
                        path, start, attribute, f"{row[attribute]!r} is not one of 1, 1.5, ..., 6"
                    )
                yield Example(
                    task=task.name,
                    id=f"{FORMAT}/row{row_number}/{attribute}",
                    context={"meaning representation": row["mr"], "utterance": row["sys_ref"]},
                    label=label,
                    provenance=provenance,
                )
