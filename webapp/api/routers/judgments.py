"""Human judgments (rater labels) and autorater judgments (model verdicts)."""

from __future__ import annotations

import re
from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from webapp.annotation.models import Annotation
from webapp.api.access import project_data
from webapp.api.errors import ApiError
from webapp.api.pagination import Page, PageQuery, paginate
from webapp.api.schemas import MAX_ID, MAX_NUMBER, AutoraterJudgmentOut, ErrorOut, HumanJudgmentOut
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.autoraters.selectors import version_promoted_for

router = Router(tags=["judgments"])
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class HumanFilter(Schema):
    item_id: int | None = Field(None, ge=1, le=MAX_ID)
    task: str | None = Field(None, max_length=200)
    annotator: str | None = Field(None, max_length=150)
    current_only: bool = Field(True, description="Only each rater's current revision.")
    since: datetime | None = Field(
        None, description="Created at or after this time (ISO 8601, e.g. 2026-01-31T12:00:00Z)."
    )

    @field_validator("since", mode="before")
    @classmethod
    def _iso_8601_only(cls, value):
        # The schema says date-time: a bare number (which pydantic would read as a Unix time)
        # is refused rather than silently taken.
        if isinstance(value, str) and not ISO_DATE.match(value):
            raise ValueError("give an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
        return value


class AutoraterFilter(Schema):
    version: int | None = Field(
        None, ge=1, le=MAX_NUMBER, description="Version number; default: the live one."
    )
    item_id: int | None = Field(None, ge=1, le=MAX_ID)
    task: str | None = Field(None, max_length=200)


@router.get("/projects/{slug}/judgments/human", response={200: Page[HumanJudgmentOut], **ERRORS})
def list_human_judgments(
    request: HttpRequest, slug: str, page: Query[PageQuery], where: Query[HumanFilter]
):
    project = project_data(request, slug)
    rows = Annotation.objects.filter(item__project=project).select_related(
        "item", "item__task", "annotator"
    )
    if where.current_only:
        rows = rows.filter(is_current=True)
    if where.item_id is not None:
        rows = rows.filter(item_id=where.item_id)
    if where.task is not None:
        rows = rows.filter(item__task__name=where.task)
    if where.annotator is not None:
        rows = rows.filter(annotator__username=where.annotator)
    if where.since is not None:
        rows = rows.filter(created_at__gte=where.since)
    return paginate(rows, page)


@router.get(
    "/projects/{slug}/judgments/autorater", response={200: Page[AutoraterJudgmentOut], **ERRORS}
)
def list_autorater_judgments(
    request: HttpRequest, slug: str, page: Query[PageQuery], where: Query[AutoraterFilter]
):
    """Verdicts of one autorater version (the live one unless `version` is given)."""
    project = project_data(request, slug)
    if where.version is None:
        version = version_promoted_for(project.pk)
        if version is None:
            raise ApiError(404, "This project has no live autorater yet.")
    else:
        version = AutoraterVersion.objects.filter(project=project, number=where.version).first()
        if version is None:
            raise ApiError(404, f"No version {where.version} in this project.")
    rows = ModelJudgment.objects.filter(version=version).select_related(
        "item", "item__task", "version"
    )
    if where.item_id is not None:
        rows = rows.filter(item_id=where.item_id)
    if where.task is not None:
        rows = rows.filter(item__task__name=where.task)
    return paginate(rows, page)
