"""Autorater versions: list and promote."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router

from webapp.api.access import project_admin, project_data
from webapp.api.pagination import Page, PageQuery, paginate
from webapp.api.schemas import MAX_NUMBER, ErrorOut, VersionOut
from webapp.audit.services import Via
from webapp.autoraters.models import AutoraterVersion
from webapp.autoraters.services import version_promote

router = Router(tags=["versions"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


@router.get("/projects/{slug}/versions", response={200: Page[VersionOut], **ERRORS})
def list_versions(request: HttpRequest, slug: str, page: Query[PageQuery]):
    project = project_data(request, slug)
    return paginate(AutoraterVersion.objects.filter(project=project).select_related("parent"), page)


@router.post("/projects/{slug}/versions/{number}/promote", response={200: VersionOut, **ERRORS})
def promote_version(request: HttpRequest, slug: str, number: int = Path(..., ge=1, le=MAX_NUMBER)):
    """Make a version the live autorater (admins, admin scope); it then judges every item."""
    project = project_admin(request, slug, scope="admin")
    version = get_object_or_404(AutoraterVersion, project=project, number=number)
    version = version_promote(version=version, actor=request.user, via=Via.of(request))
    return version
