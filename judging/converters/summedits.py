"""SummEdits (salesforce/factualNLG): is the summary consistent with the document? (Apache-2.0)

Source: a JSON array per domain, records {"id", "doc", "summary", "original_summary",
"label": 1|0 (1 = consistent), "edit_types": [...], "split": "evaluation"|"test"}.
One record -> one classification example; the upstream split is kept in provenance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from judging.converters import ConversionError, load_json_array
from judging.task_format import Example, Task, TaskType

FORMAT = "summedits"

CONSISTENCY = Task(
    name="summedits/consistency",
    type=TaskType.CLASSIFICATION,
    title="Is the summary factually consistent with the document?",
    description=(
        "Read the document and the summary. Answer 'consistent' if every fact in the summary "
        "is supported by the document, 'inconsistent' if any fact contradicts the document or "
        "is not supported by it."
    ),
    context_fields=("document", "summary"),
    output_fields=("answer",),
    labels=("consistent", "inconsistent"),
)
TASKS = (CONSISTENCY,)
LABELS = {1: "consistent", 0: "inconsistent"}


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("summedits_*.json"))


def convert_file(path: Path, **options) -> Iterator[Example]:
    domain = path.stem.removeprefix("summedits_")
    records = load_json_array(path)
    for index, record in enumerate(records):
        where = str(index)
        for field in ("id", "doc", "summary", "label"):
            if field not in record:
                raise ConversionError(path, where, field, "missing")
        if record["label"] not in LABELS:
            raise ConversionError(path, where, "label", f"{record['label']!r} is not 0 or 1")
        yield Example(
            task=CONSISTENCY.name,
            id=f"summedits/{record['id']}",
            context={"document": record["doc"], "summary": record["summary"]},
            label=LABELS[record["label"]],
            provenance={
                "source": "summedits",
                "domain": domain,
                "split": record.get("split"),
                "edit_types": record.get("edit_types", []),
                "license": "Apache-2.0",
            },
        )
