"""Pushed interchange lines: read from a JSON or NDJSON body, checked against the schema
(webapp/api/interchange.py) and against the rules it cannot say (its RULES), before the
importer runs, so that each refusal names the line, the field and the reason:

- 422: the body breaks a rule on its own (a type, a length; a name used before the line that
  defines it; a context without its task's fields; a label outside the task's labels or scale;
  a scale whose low is not below its high; a gold push with an unlabelled example);
- 409: the body is fine, but not with the project's tasks (a task name neither the project's
  nor defined earlier; a definition that differs from the project's task of that name; an
  example that does not fit the project's task it names).

The importer (webapp.annotation.transfer.examples_import) stays the authority; it meets
these lines with the project's tasks written in where a line names one."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from pydantic import ValidationError

from judging.task_format import Example, FormatError, Task, validate_example
from webapp.annotation.models import Project
from webapp.annotation.selectors import task_of
from webapp.annotation.transfer import DEFAULT_HELDOUT_PERCENT, GOLD_NEEDS_LABEL
from webapp.api.errors import ApiError
from webapp.api.interchange import ExampleLine, ItemsIn
from webapp.api.parser import unstorable_paths

NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
NOTHING = "Nothing was imported."
NOT_VALID = "The request is not valid."
TOO_MANY = "At most {limit} examples per request; send several requests."
NOT_AN_OBJECT = "line {line}: not a JSON object"
GOLD_VALUES = {"true": True, "1": True, "false": False, "0": False}
LATER = "field 'task': task {name!r} is defined on line {at}, after its first use"
UNKNOWN = (
    "field 'task': no task {name!r} in project {project!r}, nor defined on an earlier line "
    "(give its definition)"
)
CONFLICT = (
    "field 'task': task {name!r} differs from the project's task of that name (edit its "
    "rubric, or give the task another name)"
)


def _details(error: ValidationError, prefix: str = "") -> list[str]:
    return [
        f"{prefix}{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
    ][:50]


def _within_limit(count: int) -> None:
    limit = settings.EMBER_API_MAX_ITEMS_PER_REQUEST
    if count > limit:
        raise ApiError(413, TOO_MANY.format(limit=limit))


def _ndjson(request: HttpRequest) -> tuple[list[dict], int, bool]:
    raws = []
    for number, raw in enumerate(request.body.decode("utf-8", "replace").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ApiError(422, f"line {number}: {error}") from error
        if not isinstance(line, dict):
            raise ApiError(422, NOT_AN_OBJECT.format(line=number))
        raws.append((number, raw, line))
    _within_limit(len(raws))
    if not raws:
        raise ApiError(422, "No examples in the request.")
    for number, raw, _ in raws:
        try:
            ExampleLine.model_validate_json(raw)
        except ValidationError as error:
            details = _details(error, f"line {number}: ")
            raise ApiError(422, f"{NOT_VALID} {details[0]}", details=details) from error
    heldout = request.GET.get("heldout_percent", str(DEFAULT_HELDOUT_PERCENT))
    if not heldout.isdigit() or int(heldout) > 100:
        raise ApiError(422, "heldout_percent must be an integer from 0 to 100.")
    gold = request.GET.get("gold", "false").lower()
    if gold not in GOLD_VALUES:
        raise ApiError(422, "gold must be true or false.")
    return [line for _, _, line in raws], int(heldout), GOLD_VALUES[gold]


def _json(request: HttpRequest) -> tuple[list[dict], int, bool]:
    body = request.body or b"{}"
    try:
        data = json.loads(body)
    except ValueError as error:
        raise ApiError(422, NOT_VALID, details=[str(error)]) from error
    if isinstance(data, dict) and isinstance(data.get("examples"), list):
        _within_limit(len(data["examples"]))  # 413, as for NDJSON, before the schema's maxItems
    try:
        valid = ItemsIn.model_validate_json(body)
    except ValidationError as error:
        raise ApiError(422, NOT_VALID, details=_details(error)) from error
    return data["examples"], valid.heldout_percent, valid.gold


def lines_read(request: HttpRequest) -> tuple[list[dict], int, bool]:
    """(lines as sent, heldout_percent, gold) from a JSON body ({"examples": [...]}) or an
    NDJSON body (with ?heldout_percent= and ?gold=), each line valid by the schema."""
    if (request.content_type or "") in NDJSON_TYPES:
        lines, heldout, gold = _ndjson(request)
    else:
        lines, heldout, gold = _json(request)
    unstorable = unstorable_paths(lines, "examples")
    if unstorable:
        raise ApiError(
            422,
            "Text may not contain NUL characters or unpaired surrogates: "
            + ", ".join(unstorable[:10]),
            details=unstorable[:100],
        )
    return lines, heldout, gold


def _refuse(status: int, number: int, reason: Any) -> ApiError:
    return ApiError(status, f"{NOTHING} line {number}: {reason}")


def body_check(lines: list[dict], *, gold: bool) -> None:
    """Refuse (422) a body that breaks a rule on its own, as the importer would read it."""
    defined_at: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if isinstance(line["task"], dict):
            defined_at.setdefault(line["task"]["name"], number)
    tasks: dict[str, Task] = {}
    for number, line in enumerate(lines, 1):
        ref = line["task"]
        try:
            if isinstance(ref, dict):
                task = Task.from_dict(ref)
                tasks[task.name] = task
            elif ref in defined_at and ref not in tasks:
                raise FormatError(LATER.format(name=ref, at=defined_at[ref]))
            else:
                task = tasks.get(ref)  # None: the project's task, checked by project_check
            example = Example.from_dict({**line, "task": task.name if task else ref})
            if task is not None:
                validate_example(task, example)
        except (FormatError, ValueError) as error:
            raise _refuse(422, number, error) from error
        if gold and not example.label:
            raise ApiError(422, f"{NOTHING} {GOLD_NEEDS_LABEL.format(where=f'line {number}')}")


def project_check(project: Project, lines: list[dict]) -> list[dict]:
    """Refuse (409) lines that do not fit the project's tasks; else the lines, the first that
    names a task of the project carrying its definition (as the importer reads a JSONL file)."""
    stored = {definition.name: definition for definition in project.tasks.all()}
    defined: set[str] = set()  # defined on an earlier line: checked by body_check
    from_project: dict[str, Task] = {}
    out = []
    for number, line in enumerate(lines, 1):
        ref = line["task"]
        if isinstance(ref, dict):
            name = ref["name"]
            # The importer compares a body's first definition of a name with the project's.
            if name not in defined and name in stored:
                if task_of(stored[name]) != Task.from_dict(ref):
                    raise _refuse(409, number, CONFLICT.format(name=name))
            defined.add(name)
        elif ref in from_project or ref not in defined:
            if ref not in from_project:
                if ref not in stored:
                    raise _refuse(409, number, UNKNOWN.format(name=ref, project=project.slug))
                from_project[ref] = task_of(stored[ref])
                line = {**line, "task": stored[ref].as_task_dict()}
            try:
                validate_example(from_project[ref], Example.from_dict({**line, "task": ref}))
            except FormatError as error:
                raise _refuse(409, number, f"{error} (the project's task {ref!r})") from error
        out.append(line)
    return out
