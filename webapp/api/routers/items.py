"""Items: list with filters, and bulk create from interchange JSONL."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from webapp.annotation.models import Item
from webapp.annotation.transfer import examples_import
from webapp.api.access import project_admin, project_data
from webapp.api.errors import ApiError
from webapp.api.interchange import REF_TEMPLATE
from webapp.api.item_lines import body_check, lines_read, project_check
from webapp.api.pagination import Page, PageQuery, paginate
from webapp.api.schemas import ErrorOut, ImportOut, ItemOut
from webapp.audit.services import Via

router = Router(tags=["items"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


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


ITEMS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="ItemsIn")}},
            "application/x-ndjson": {
                "schema": {
                    "type": "string",
                    "description": "One interchange example per line: each an ExampleLine "
                    "(the same rules; ?heldout_percent= and ?gold= as query parameters).",
                }
            },
        },
    }
}


@router.post(
    "/projects/{slug}/items",
    response={200: ImportOut, 409: ErrorOut, 413: ErrorOut, **ERRORS},
    openapi_extra=ITEMS_BODY,
    exclude_none=True,
)
def create_items(request: HttpRequest, slug: str):
    """Push items: interchange JSONL lines, all or nothing; items already present are skipped.

    Send `{"examples": [...], "heldout_percent": 20, "gold": false}` as JSON, or the JSONL
    itself with `Content-Type: application/x-ndjson` (and `?heldout_percent=`, `?gold=`).
    `heldout_percent` defaults to 20; with 0 the response carries a `warning` (the promotion
    gate has no held-out labels to compare versions on). `gold`: the labels are known answers
    and every example needs one.

    Each line is an `ExampleLine`; what JSON Schema cannot say is in `ItemsIn`'s description:
    a body that breaks it is refused with 422, one that does not fit the project's tasks (an
    unknown task name, a definition that differs from the project's) with 409, each naming
    the line, the field and the reason."""
    project = project_admin(request, slug)
    lines, heldout, gold = lines_read(request)
    body_check(lines, gold=gold)
    lines = project_check(project, lines)
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
