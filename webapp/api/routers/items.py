"""Items: list with filters, and bulk create from interchange JSONL."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from webapp.annotation.models import Item
from webapp.annotation.transfer import DEFAULT_HELDOUT_PERCENT, examples_import
from webapp.api.access import project_admin, project_data
from webapp.api.errors import ApiError
from webapp.api.pagination import Page, PageQuery, paginate
from webapp.api.schemas import ErrorOut, ImportOut, ItemOut, ItemsIn
from webapp.audit.services import Via

router = Router(tags=["items"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
TOO_MANY = "At most {limit} examples per request; send several requests."
NOT_AN_OBJECT = "line {line}: not a JSON object"
GOLD_VALUES = {"true": True, "1": True, "false": False, "0": False}


class ItemFilter(Schema):
    task: str | None = Field(None, max_length=200)
    split: str | None = Field(None, pattern="^(train|heldout)$")
    is_gold: bool | None = None
    has_gold_label: bool | None = None
    external_id: str | None = Field(None, max_length=1000)


@router.get("/projects/{slug}/items", response={200: Page[ItemOut], 400: ErrorOut, **ERRORS})
def list_items(request: HttpRequest, slug: str, page: Query[PageQuery], where: Query[ItemFilter]):
    project = project_data(request, slug)
    items = Item.objects.filter(project=project).select_related("task")
    if where.task is not None:
        items = items.filter(task__name=where.task)
    if where.split is not None:
        items = items.filter(split=where.split)
    if where.is_gold is not None:
        items = items.filter(is_gold=where.is_gold)
    if where.has_gold_label is not None:
        items = (
            items.exclude(gold_label="") if where.has_gold_label else items.filter(gold_label="")
        )
    if where.external_id is not None:
        items = items.filter(external_id=where.external_id)
    return paginate(items, page)


def _lines_of(request: HttpRequest) -> tuple[list[dict], int, bool]:
    """(lines, heldout_percent, gold) from a JSON body ({"examples": [...]}) or an NDJSON
    body (with ?heldout_percent= and ?gold=true)."""
    content_type = request.content_type or ""
    if content_type in NDJSON_TYPES:
        lines = []
        for number, raw in enumerate(request.body.decode("utf-8", "replace").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ApiError(422, f"line {number}: {error}") from error
            if not isinstance(line, dict):
                raise ApiError(422, NOT_AN_OBJECT.format(line=number))
            lines.append(line)
        heldout = request.GET.get("heldout_percent", str(DEFAULT_HELDOUT_PERCENT))
        if not heldout.isdigit() or int(heldout) > 100:
            raise ApiError(422, "heldout_percent must be an integer from 0 to 100.")
        gold = request.GET.get("gold", "false").lower()
        if gold not in GOLD_VALUES:
            raise ApiError(422, "gold must be true or false.")
        return lines, int(heldout), GOLD_VALUES[gold]
    try:
        body = ItemsIn.model_validate_json(request.body or b"{}")
    except ValueError as error:
        details = [str(e.get("msg")) for e in getattr(error, "errors", lambda: [])()]
        raise ApiError(422, "The request is not valid.", details=details or None) from error
    return body.examples, body.heldout_percent, body.gold


def _with_known_tasks(project, lines: list[dict]) -> list[dict]:
    """A line may name a task already in the project: give it the stored definition."""
    defined = {line["task"].get("name") for line in lines if isinstance(line.get("task"), dict)}
    stored = {definition.name: definition for definition in project.tasks.all()}
    out = []
    for line in lines:
        name = line.get("task")
        if isinstance(name, str) and name not in defined and name in stored:
            line = {**line, "task": stored[name].as_task_dict()}
            defined.add(name)
        out.append(line)
    return out


ITEMS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ItemsIn.model_json_schema()},
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "One interchange example per line."}
            },
        },
    }
}


@router.post(
    "/projects/{slug}/items",
    response={200: ImportOut, 413: ErrorOut, **ERRORS},
    openapi_extra=ITEMS_BODY,
    exclude_none=True,
)
def create_items(request: HttpRequest, slug: str):
    """Push items: interchange JSONL lines, all or nothing; items already present are skipped.

    Send `{"examples": [...], "heldout_percent": 20, "gold": false}` as JSON, or the JSONL
    itself with `Content-Type: application/x-ndjson` (and `?heldout_percent=`, `?gold=`).
    `heldout_percent` defaults to 20; with 0 the response carries a `warning` (the promotion
    gate has no held-out labels to compare versions on). `gold`: the labels are known answers
    and every example needs one."""
    project = project_admin(request, slug)
    lines, heldout, gold = _lines_of(request)
    limit = settings.EMBER_API_MAX_ITEMS_PER_REQUEST
    if len(lines) > limit:
        raise ApiError(413, TOO_MANY.format(limit=limit))
    if not lines:
        raise ApiError(422, "No examples in the request.")
    lines = _with_known_tasks(project, lines)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "request.jsonl"
        path.write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8"
        )
        try:
            result = examples_import(
                project=project,
                path=path,
                heldout_percent=heldout,
                gold=gold,
                actor=request.user,
                via=Via.of(request),
            )
        except (ValueError, ValidationError) as error:  # FormatError is a ValueError
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else error
            raise ApiError(
                422, f"Nothing was imported. {message}".replace(f"{path}:", "line ")
            ) from error
    return {
        "created": result.created,
        "skipped": result.skipped,
        "per_task": result.per_task,
        "warning": result.warning,
    }
