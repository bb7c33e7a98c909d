"""Converters: public human-evaluation datasets (and generic layouts) -> Tasks and Examples.

Each converter is a module in this package named after its FORMAT (the dataset's folder name in
shared/data with '-' as '_', e.g. `qa_feedback` for `qa-feedback`). A converter module defines:

    FORMAT: str                      # the name on the command line, e.g. "qa-feedback"
    TASKS: tuple[Task, ...]          # every task it can produce
    def tasks_for(**options) -> tuple[Task, ...]     # optional: tasks defined by options (csv)
    def source_files(folder: Path) -> list[Path]     # the files of a dataset folder it reads
    def convert_file(path: Path, **options) -> Iterator[Example]

`convert_file` streams Examples and raises ConversionError (file, record, field, reason) on bad
input. Task names are "<format>/<what is judged>", one task per rated attribute.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from judging.task_format import Example, FormatError, Task, validate_example


class ConversionError(FormatError):
    """Bad source data: names the file, the record, the field and the reason.

    `record` is an int for a line number of a line-based file ("line 12"), or text naming a
    record of a JSON array or similar ("record 3", "record 3 samples[1]")."""

    def __init__(self, path: Path | str, record: str | int, field: str, reason: str) -> None:
        self.path, self.record, self.field, self.reason = str(path), record, field, reason
        where = f"line {record}" if isinstance(record, int) else f"record {record}"
        super().__init__(f"{path}: {where}: field {field!r}: {reason}")


def load_json_array(path: Path) -> list:
    """A source file holding one JSON array of records, or ConversionError saying why not."""
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConversionError(path, error.lineno, "(json)", error.msg) from error
    if not isinstance(records, list):
        raise ConversionError(path, 1, "(root)", "expected a JSON array of records")
    return records


def _module_name(format_name: str) -> str:
    return format_name.replace("-", "_")


def available_formats() -> list[str]:
    names = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        names.append(get_converter_module(info.name).FORMAT)
    return sorted(names)


def get_converter_module(format_name: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{_module_name(format_name)}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{_module_name(format_name)}":
            raise
        raise FormatError(
            f"unknown format {format_name!r}; known: {', '.join(available_formats())}"
        ) from error


def source_paths(module: ModuleType, sources: list[Path]) -> list[Path]:
    paths: list[Path] = []
    for source in sources:
        if source.is_dir():
            found = module.source_files(source)
            if not found:
                raise FormatError(f"{source}: no {module.FORMAT} source files in this folder")
            paths.extend(found)
        elif source.exists():
            paths.append(source)
        else:
            raise FormatError(f"{source}: no such file or folder")
    return paths


def convert(
    format_name: str, sources: list[Path | str], **options
) -> tuple[dict[str, Task], Iterator[Example]]:
    """The tasks of a format and a stream of its validated examples from files or folders."""
    module = get_converter_module(format_name)
    declared = module.tasks_for(**options) if hasattr(module, "tasks_for") else module.TASKS
    tasks = {task.name: task for task in declared}
    paths = source_paths(module, [Path(source) for source in sources])

    def examples() -> Iterator[Example]:
        for path in paths:
            for example in module.convert_file(path, **options):
                task = tasks.get(example.task)
                if task is None:
                    raise ConversionError(
                        path,
                        example.id or "?",
                        "task",
                        f"converter produced unknown task {example.task!r}",
                    )
                validate_example(task, example)
                yield example

    return tasks, examples()
