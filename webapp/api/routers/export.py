"""Export a project's items with labels: interchange JSONL, preference pairs or CSV."""

from __future__ import annotations

import tempfile
from typing import Literal

from django.http import FileResponse, HttpRequest
from ninja import Router

from webapp.annotation.transfer import EXPORTERS
from webapp.api.access import project_data
from webapp.api.schemas import ErrorOut

router = Router(tags=["export"])
SUFFIX = {"jsonl": ".jsonl", "pairs": ".pairs.jsonl", "csv": ".csv"}
MEDIA = {"jsonl": "application/x-ndjson", "pairs": "application/x-ndjson", "csv": "text/csv"}
EXPORT_RESPONSES = {
    "responses": {
        "200": {
            "description": "The export file",
            "content": {media: {"schema": {"type": "string"}} for media in set(MEDIA.values())},
        }
    }
}


@router.get(
    "/projects/{slug}/export",
    response={401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    openapi_extra=EXPORT_RESPONSES,
)
def export(request: HttpRequest, slug: str, format: Literal["jsonl", "pairs", "csv"] = "jsonl"):
    project = project_data(request, slug)
    handle = tempfile.NamedTemporaryFile(suffix=SUFFIX[format])  # removed when it is closed
    EXPORTERS[format](project=project, path=handle.name)
    response = FileResponse(
        open(handle.name, "rb"),
        as_attachment=True,
        filename=f"{project.slug}{SUFFIX[format]}",
        content_type=MEDIA[format],
    )
    response._resource_closers.append(handle.close)
    return response
