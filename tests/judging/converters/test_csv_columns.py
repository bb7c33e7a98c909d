import json
from pathlib import Path

import pytest

from judging.converters import ConversionError
from judging.converters import csv_columns as cc
from judging.task_format import Example, FormatError

FORMAT = "csv-columns"
TASK = {
    "name": "my-data/helpfulness",
    "type": "pointwise",
    "title": "Rate the helpfulness of the answer (1-5)",
    "description": "1 = useless, 5 = fully answers the question.",
    "context_fields": ["question", "answer"],
    "output_fields": ["rating"],
    "labels": ["1", "2", "3", "4", "5"],
}
CSV = (
    "qid,prompt,reply,score,gold\n"
    "q1,What is 2+2?,4,5,4\n"
    # Edge case: a quoted cell spanning two lines, a comma inside, and an empty reference.
    'q2,"Name two colours,\nplease.",Red and blue., 4 ,\n'
    "q3,Capital of France?,Lyon,1,Paris\n"
)
COLUMNS = "question:prompt,answer:reply,label:score,id:qid,reference:gold"


def _setup(tmp_path: Path, text: str = CSV, task=TASK) -> tuple[Path, dict[str, str]]:
    task_path = tmp_path / "task.json"
    task_path.write_text(json.dumps(task))
    path = tmp_path / "ratings.csv"
    path.write_text(text, encoding="utf-8")
    return path, {"task": str(task_path), "columns": COLUMNS, "license": "CC0"}


def test_converts_mapped_columns(tmp_path):
    path, options = _setup(tmp_path)
    assert [t.name for t in cc.tasks_for(**options)] == ["my-data/helpfulness"]
    examples = list(cc.convert_file(path, **options))
    assert examples == [
        Example(
            task="my-data/helpfulness",
            id=f"{FORMAT}/ratings/q1",
            context={"question": "What is 2+2?", "answer": "4"},
            label="5",
            reference="4",
            provenance={"source": FORMAT, "license": "CC0", "file": "ratings.csv", "line": 2},
        ),
        Example(
            task="my-data/helpfulness",
            id=f"{FORMAT}/ratings/q2",
            context={"question": "Name two colours,\nplease.", "answer": "Red and blue."},
            label="4",
            reference=None,
            provenance={"source": FORMAT, "license": "CC0", "file": "ratings.csv", "line": 3},
        ),
        Example(
            task="my-data/helpfulness",
            id=f"{FORMAT}/ratings/q3",
            context={"question": "Capital of France?", "answer": "Lyon"},
            label="1",
            reference="Paris",
            provenance={"source": FORMAT, "license": "CC0", "file": "ratings.csv", "line": 5},
        ),
    ]


def test_without_id_and_label_and_with_a_scale(tmp_path):
    task = {**TASK, "labels": [], "scale": [0, 1]}
    path, options = _setup(tmp_path, "prompt,reply,p\nHi?,Hello,0.75\n", task)
    options["columns"] = "question:prompt,answer:reply,label:p"
    [example] = cc.convert_file(path, **options)
    assert (example.id, example.label) == (f"{FORMAT}/ratings/row1", "0.75")
    options["columns"] = "question:prompt,answer:reply"
    [example] = cc.convert_file(path, **options)
    assert example.label is None


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        (CSV.replace("Lyon,1,", "Lyon,9,"), 5, "score", "not in"),
        (CSV.replace("q3,", "q1,"), 5, "qid", "duplicate id"),
        (CSV + "q4,Short row\n", 6, "reply", "missing"),
        (CSV.replace(",4,5,4", ",4,,4"), 2, "score", "empty label"),
        (CSV.replace("reply", "response"), 1, "reply", "no such column"),
    ],
)
def test_bad_row_names_file_line_and_column(tmp_path, text, line, column, reason):
    path, options = _setup(tmp_path, text)
    with pytest.raises(ConversionError, match=reason) as caught:
        list(cc.convert_file(path, **options))
    assert (caught.value.path, caught.value.record, caught.value.field) == (str(path), line, column)
    assert f"{path}: line {line}: field {column!r}" in str(caught.value)


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ("question:prompt", r"context fields \['answer'\] are not mapped"),
        ("question:prompt,answer:reply,score", "is not field:column"),
        ("question:prompt,answer:reply,rating:score", "not a field of task"),
        ("question:prompt,answer:reply,question:qid", "mapped twice"),
    ],
)
def test_bad_options(tmp_path, columns, reason):
    path, options = _setup(tmp_path)
    with pytest.raises(FormatError, match=reason):
        list(cc.convert_file(path, **{**options, "columns": columns}))


def test_bad_task_file(tmp_path):
    path, options = _setup(tmp_path, task={**TASK, "type": "ranking"})
    with pytest.raises(FormatError, match="task.json: task: field 'type'"):
        list(cc.convert_file(path, **options))
    with pytest.raises(FormatError, match="needs --option task"):
        list(cc.convert_file(path, columns=COLUMNS))
