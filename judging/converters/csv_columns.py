"""Generic CSV with a header -> examples of a task defined in a JSON file.

(The module is `csv_columns`, not `csv`, so that it does not shadow the standard library.)

Options (strings, from the CLI `--option key=value`):
  * `task`: path to a JSON task definition in `Task.from_dict` form ({"name", "type", "title",
    "description", "context_fields", "output_fields", "labels" or "scale"}).
  * `columns`: "field:column,field:column,..." mapping each of the task's context fields, and
    optionally `label`, `id` and `reference`, to CSV column names. Every context field must be
    mapped; a field is split from its column at the first ":". Context field names may contain
    spaces (e.g. "response A:answer_1").
  * `license` (optional): written into every example's provenance (default "unspecified").

One CSV row -> one example. Cells are taken as text with surrounding whitespace kept, except the
label, which is stripped and must be one of the task's labels (or, for a task with a `scale`, a
number within it); an empty label cell is an error, so leave `label` unmapped for unlabelled
data. Ids: "csv-columns/<file stem>/<id cell>" when `id` is mapped (a repeated id is an error),
else "csv-columns/<file stem>/row<n>" with n the data row number (1 = first row after the
header). Errors name the file, the physical line and the CSV column.

Limitation: the task comes from the options, and `judging.converters.convert` builds its task
table from the module attribute TASKS before it passes the options on, so `TASKS` here is empty.
Use `tasks_for(**options)` and `convert_file(path, **options)` directly (both validate); going
through `convert()` or the CLI needs `convert()` to ask the module for its tasks given the options.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from judging.converters import ConversionError
from judging.task_format import Example, FormatError, Task, validate_example

FORMAT = "csv-columns"
TASKS: tuple[Task, ...] = ()
SPECIAL_FIELDS = ("label", "id", "reference")


def source_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.csv"))


def load_task(path: str | Path) -> Task:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FormatError(f"option 'task': cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ConversionError(path, error.lineno, "(json)", error.msg) from error
    if not isinstance(data, dict):
        raise ConversionError(path, 1, "(root)", "expected a JSON object (a task definition)")
    try:
        return Task.from_dict(data)
    except FormatError as error:
        raise FormatError(f"{path}: {error}") from error


def tasks_for(**options: str) -> tuple[Task, ...]:
    """The task the options define (the `task` option's file)."""
    if "task" not in options:
        raise FormatError("csv-columns needs --option task=<task definition JSON file>")
    return (load_task(options["task"]),)


def parse_columns(spec: str, task: Task) -> dict[str, str]:
    """'field:column,...' -> {field: column}; every context field must be mapped."""
    mapping: dict[str, str] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        field, sep, column = item.partition(":")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise FormatError(f"option 'columns': {item!r} is not field:column")
        if field not in task.context_fields and field not in SPECIAL_FIELDS:
            known = [*task.context_fields, *SPECIAL_FIELDS]
            raise FormatError(
                f"option 'columns': {field!r} is not a field of task {task.name!r} ({known})"
            )
        if field in mapping:
            raise FormatError(f"option 'columns': field {field!r} mapped twice")
        mapping[field] = column
    missing = [field for field in task.context_fields if field not in mapping]
    if missing:
        raise FormatError(f"option 'columns': context fields {missing} are not mapped")
    return mapping


def convert_file(path: Path, **options: str) -> Iterator[Example]:
    (task,) = tasks_for(**options)
    if "columns" not in options:
        raise FormatError("csv-columns needs --option columns=field:column,...")
    mapping = parse_columns(options["columns"], task)
    license_ = options.get("license", "unspecified")
    stem = path.name.removesuffix(".csv")
    seen: set[str] = set()
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except csv.Error as error:
            raise ConversionError(path, 1, "(header)", str(error)) from error
        for field, column in mapping.items():
            if column not in header:
                raise ConversionError(
                    path, 1, column, f"no such column in the header (mapped from {field!r})"
                )
        line = reader.line_num
        row_number = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise ConversionError(path, reader.line_num, "(row)", str(error)) from error
            row_number += 1
            start, line = line + 1, reader.line_num
            if None in row:
                raise ConversionError(path, start, "(row)", "more fields than the header")
            for field, column in mapping.items():
                if row.get(column) is None:
                    raise ConversionError(path, start, column, f"missing (short row; {field!r})")
            label = None
            if "label" in mapping:
                column = mapping["label"]
                label = row[column].strip()
                if not label:
                    raise ConversionError(path, start, column, "empty label")
                if task.labels and label not in task.labels:
                    raise ConversionError(
                        path, start, column, f"label {label!r} not in {list(task.labels)}"
                    )
                if task.scale is not None:
                    try:
                        value = float(label)
                    except ValueError:
                        raise ConversionError(
                            path, start, column, f"label {label!r} is not a number"
                        ) from None
                    if not task.scale[0] <= value <= task.scale[1]:
                        raise ConversionError(
                            path, start, column, f"label {label!r} outside {list(task.scale)}"
                        )
            if "id" in mapping:
                source_id = row[mapping["id"]].strip()
                if not source_id:
                    raise ConversionError(path, start, mapping["id"], "empty id")
                if source_id in seen:
                    raise ConversionError(path, start, mapping["id"], f"duplicate id {source_id!r}")
                seen.add(source_id)
                example_id = f"{FORMAT}/{stem}/{source_id}"
            else:
                example_id = f"{FORMAT}/{stem}/row{row_number}"
            reference = row[mapping["reference"]] if "reference" in mapping else None
            example = Example(
                task=task.name,
                id=example_id,
                context={field: row[mapping[field]] for field in task.context_fields},
                label=label,
                reference=reference or None,
                provenance={
                    "source": FORMAT,
                    "license": license_,
                    "file": path.name,
                    "line": start,
                },
            )
            try:
                validate_example(task, example)
            except FormatError as error:
                raise ConversionError(path, start, "(row)", str(error)) from error
            yield example
