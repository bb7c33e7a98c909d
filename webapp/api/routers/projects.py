"""Projects and their tasks."""

from __future__ import annotations

import secrets

from django.db import IntegrityError
from django.http import HttpRequest
from django.utils.text import slugify
from ninja import Query, Router, Status

from webapp.annotation.services import project_create
from webapp.api.access import project_visible, require_admin
from webapp.api.auth import require_scope
from webapp.api.errors import ApiError
from webapp.api.pagination import Page, PageQuery, paginate
from webapp.api.schemas import ErrorOut, ProjectIn, ProjectOut, TaskOut
from webapp.api.selectors import projects_for_api
from webapp.audit.services import Via

router = Router(tags=["projects"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


@router.get("/projects", response={200: Page[ProjectOut], **ERRORS})
def list_projects(request: HttpRequest, page: Query[PageQuery]):
    """Projects this token's user reaches."""
    require_scope(request, "read")
    return paginate(projects_for_api(request.user), page)


@router.post("/projects", response={201: ProjectOut, 409: ErrorOut, **ERRORS})
def create_project(request: HttpRequest, body: ProjectIn):
    """Create a project (admins, admin scope)."""
    require_admin(request, "admin")
    # A name with no letters or digits slugify keeps (say "¶" or "项目") gets a made-up slug.
    slug = (body.slug or slugify(body.name))[:100] or f"project-{secrets.token_hex(4)}"
    try:
        project = project_create(
            name=body.name,
            slug=slug,
            description=body.description,
            raters_per_item=body.raters_per_item,
            actor=request.user,
            via=Via.of(request),
        )
    except IntegrityError as error:
        raise ApiError(409, f"A project with slug {slug!r} already exists.") from error
    return Status(201, project)


@router.get("/projects/{slug}", response={200: ProjectOut, **ERRORS})
def get_project(request: HttpRequest, slug: str):
    return project_visible(request, slug)


@router.get("/projects/{slug}/tasks", response={200: list[TaskOut], **ERRORS})
def list_tasks(request: HttpRequest, slug: str):
    """The project's rubric tasks (FLAMe task definitions)."""
    project = project_visible(request, slug)
    return [definition.as_task_dict() for definition in project.tasks.order_by("name")]
