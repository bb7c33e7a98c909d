"""Rows in (a CSV or JSONL upload, or pasted rows) mapped onto one rubric, then imported.

Step one reads the rows and keeps them under EMBER_ARTIFACT_ROOT/uploads/<token>.json; step two
maps columns to the task's context fields, id, label and reference, checks every row (collecting
each error with its line, field and reason) and, only when all are valid, writes interchange
JSONL and imports it with transfer.examples_import (all or nothing, audited).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import secrets
import tempfile
import time
from pathlib import Path

from django.conf import settings

from judging.task_format import (
    FORMAT_VERSION,
    Example,
    FormatError,
    Task,
    _context_value,
    validate_example,
)
from webapp.annotation.models import TaskDefinition
from webapp.annotation.selectors import task_of
from webapp.annotation.transfer import ImportResult, examples_import

PREVIEW_ROWS = 5
MAX_ERRORS = 50
TOKEN_CHARS = set("0123456789abcdef")


class TableError(ValueError):
    """The upload cannot be read at all (the message says where and why)."""


@dataclasses.dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[dict]  # column -> value (text, or a list of turns from JSONL)
    first_line: int  # the file line of rows[0] (2 for CSV under its header, 1 for JSONL)


def _upload_dir() -> Path:
    # Under the artifact root: the one folder the web process and the workers share.
    folder = Path(settings.ARTIFACT_ROOT) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def table_read(name: str, text: str) -> Table:
    """CSV (comma or, when the header has tabs, tab separated: pasted from a spreadsheet) or
    JSONL (one object per line; a "context" object's fields become columns)."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise TableError(f"{name}: there are no rows")
    if name.lower().endswith(".jsonl") or text.lstrip().startswith("{"):
        return _read_jsonl(name, text)
    return _read_csv(name, text)


def _read_csv(name: str, text: str) -> Table:
    header_line = text.splitlines()[0]
    delimiter = "\t" if "\t" in header_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [column.strip() for column in next(reader)]
        if not all(header) or len(set(header)) != len(header):
            raise TableError(f"{name}: line 1: the header needs distinct, non-empty column names")
        rows = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                raise TableError(
                    f"{name}: line {reader.line_num}: {len(values)} values under "
                    f"{len(header)} columns"
                )
            rows.append(dict(zip(header, values, strict=True)))
    except csv.Error as error:
        raise TableError(f"{name}: line {reader.line_num}: {error}") from error
    return Table(name=name, columns=header, rows=rows, first_line=2)


def _read_jsonl(name: str, text: str) -> Table:
    columns: list[str] = []
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as error:
            raise TableError(f"{name}: line {number}: not JSON ({error.msg})") from error
        if not isinstance(data, dict):
            raise TableError(f"{name}: line {number}: not a JSON object")
        context = data.pop("context", None)
        if isinstance(context, dict):
            data = {**context, **data}
        for column in data:
            if column not in columns:
                columns.append(column)
        rows.append(data)
    return Table(name=name, columns=columns, rows=rows, first_line=1)


def table_store(table: Table) -> str:
    token = secrets.token_hex(16)
    payload = dataclasses.asdict(table)
    (_upload_dir() / f"{token}.json").write_text(json.dumps(payload, ensure_ascii=False))
    return token


def table_load(token: str) -> Table | None:
    if len(token) != 32 or not set(token) <= TOKEN_CHARS:
        return None
    path = _upload_dir() / f"{token}.json"
    if not path.exists():
        return None
    return Table(**json.loads(path.read_text()))


def table_discard(token: str) -> None:
    if table_load(token) is not None:
        (_upload_dir() / f"{token}.json").unlink(missing_ok=True)


@dataclasses.dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


@dataclasses.dataclass
class Mapping:
    """Which column feeds each context field, and the optional id, label and reference."""

    context: dict[str, str]
    id: str = ""
    label: str = ""
    reference: str = ""


def mapping_guess(task: Task, columns: list[str]) -> Mapping:
    """Same-named columns (case-insensitive) map by default."""
    lower = {column.lower(): column for column in columns}
    return Mapping(
        context={field: lower.get(field.lower(), "") for field in task.context_fields},
        id=lower.get("id", ""),
        label=lower.get("label", "") or lower.get("gold", ""),
        reference=lower.get("reference", ""),
    )


def _text(row: dict, column: str) -> str | None:
    value = row.get(column) if column else None
    if value is None:
        return None
    return value if isinstance(value, str | list) else str(value)


def table_examples(
    table: Table, task: Task, mapping: Mapping, *, gold: bool = False
) -> tuple[list[Example], list[RowError]]:
    """Every row as an Example of the task, or the errors (line, field, reason) of the rows
    that do not fit (at most MAX_ERRORS)."""
    errors: list[RowError] = []
    for field in task.context_fields:
        column = mapping.context.get(field, "")
        if column not in table.columns:
            errors.append(RowError(0, field, "choose the column that holds this context field"))
    if gold and not mapping.label:
        errors.append(RowError(0, "label", "a gold upload needs a label column (the answers)"))
    if errors:
        return [], errors
    examples = []
    for index, row in enumerate(table.rows):
        line = table.first_line + index
        context = {}
        for field in task.context_fields:
            value = _text(row, mapping.context[field])
            if value is None or value == "":
                errors.append(RowError(line, field, f"column {mapping.context[field]!r} is empty"))
                continue
            try:
                context[field] = _context_value(field, value)
            except FormatError as error:
                errors.append(RowError(line, field, str(error).removeprefix("example: ")))
        label = (_text(row, mapping.label) or "").strip() or None
        if gold and label is None:
            errors.append(RowError(line, "label", "a gold row needs its known answer"))
        example = Example(
            task=task.name,
            id=(_text(row, mapping.id) or "").strip() or None,
            context=context,
            label=label,
            reference=(_text(row, mapping.reference) or "").strip() or None,
        )
        if len(context) == len(task.context_fields):
            try:
                validate_example(task, example)
            except FormatError as error:
                errors.append(RowError(line, "label", str(error).split(": ", 1)[-1]))
        examples.append(example)
        if len(errors) >= MAX_ERRORS:
            break
    return examples, errors


def table_import(
    *,
    definition: TaskDefinition,
    examples: list[Example],
    heldout_percent: int,
    gold: bool,
    actor=None,
    via=None,
    progress=None,
) -> ImportResult:
    """Write the (valid) examples as interchange JSONL and import them, all or nothing.
    `progress(rows)`: see transfer.examples_import."""
    task = task_of(definition)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for index, example in enumerate(examples):
                line = example.to_dict()
                line["format_version"] = FORMAT_VERSION
                line["task"] = task.to_dict() if index == 0 else task.name
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return examples_import(
            project=definition.project,
            path=path,
            heldout_percent=heldout_percent,
            gold=gold,
            actor=actor,
            via=via,
            progress=progress,
        )


# --- large uploads: imported by a worker, with progress -----------------------------------------
# The job's parameters and its progress are files beside the stored rows (the worker reads the
# rows there too), so progress needs no cache shared between the web process and the worker.


def _job_path(token: str, kind: str) -> Path:
    return _upload_dir() / f"{token}.{kind}.json"


def _write(path: Path, data: dict) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data))
    partial.replace(path)


def job_progress(token: str) -> dict | None:
    if len(token) != 32 or not set(token) <= TOKEN_CHARS:
        return None
    path = _job_path(token, "progress")
    return json.loads(path.read_text()) if path.exists() else None


def job_start(
    *,
    token: str,
    definition: TaskDefinition,
    mapping: Mapping,
    gold: bool,
    heldout: int,
    total: int,
    actor_id: int | None,
) -> dict:
    job = {
        "project": definition.project.slug,
        "definition": definition.pk,
        "mapping": dataclasses.asdict(mapping),
        "gold": gold,
        "heldout": heldout,
        "actor": actor_id,
    }
    _write(_job_path(token, "job"), job)
    state = {"project": job["project"], "state": "queued", "done": 0, "total": total}
    _write(_job_path(token, "progress"), state)
    return state


def job_run(token: str) -> dict:
    """Import a stored upload with its stored mapping (the worker's side), recording progress."""
    from django.contrib.auth import get_user_model

    job = json.loads(_job_path(token, "job").read_text())
    table = table_load(token)
    state = {"project": job["project"], "state": "running", "done": 0, "total": 0}
    progress_path = _job_path(token, "progress")
    try:
        if table is None:
            raise TableError("the uploaded rows are gone; upload them again")
        definition = TaskDefinition.objects.select_related("project").get(pk=job["definition"])
        task = task_of(definition)
        examples, errors = table_examples(table, task, Mapping(**job["mapping"]), gold=job["gold"])
        if errors:
            first = errors[0]
            raise TableError(f"line {first.line}, field {first.field}: {first.reason}")
        state["total"] = len(examples)
        _write(progress_path, state)

        def advance(rows: int) -> None:
            _write(progress_path, {**state, "done": rows})

        actor = get_user_model().objects.filter(pk=job["actor"]).first()
        result = table_import(
            definition=definition,
            examples=examples,
            heldout_percent=job["heldout"],
            gold=job["gold"],
            actor=actor,
            progress=advance,
        )
        state.update(
            state="done",
            done=len(examples),
            created=result.created,
            skipped=result.skipped,
            warning=result.warning,
        )
        table_discard(token)
    except Exception as error:  # the page shows why; nothing was written (all or nothing)
        messages = getattr(error, "messages", None)
        state.update(state="failed", error="; ".join(messages) if messages else str(error))
    _write(progress_path, state)
    _job_path(token, "job").unlink(missing_ok=True)
    return state


# --- stored uploads that were never imported (the mapping step left) or are long finished ------

# An import still queued or running keeps its files this many times longer (a worker may be
# down for a while); a worker that died mid-import redelivers it (acks_late).
PENDING_FACTOR = 7


def uploads_sweep(keep_seconds: float, now: float | None = None) -> list[str]:
    """Delete the stored rows and job files of uploads untouched for `keep_seconds` (the mapping
    step left, or the import long done); returns the tokens swept."""
    now = time.time() if now is None else now
    files: dict[str, list[Path]] = {}
    for path in _upload_dir().iterdir():
        token = path.name.lstrip(".").split(".", 1)[0]
        if len(token) == 32 and set(token) <= TOKEN_CHARS:
            files.setdefault(token, []).append(path)
    swept = []
    for token, paths in sorted(files.items()):
        touched = max(path.stat().st_mtime for path in paths)
        progress = job_progress(token) or {}
        pending = progress.get("state") in ("queued", "running")
        if now - touched < keep_seconds * (PENDING_FACTOR if pending else 1):
            continue
        for path in paths:
            path.unlink(missing_ok=True)
        swept.append(token)
    return swept
