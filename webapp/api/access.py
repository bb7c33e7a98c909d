"""What a token may reach: its scope (read < write < admin) AND its user's role.

projects, tasks ................ raters of the project, analysts, admins
items, judgments, jobs, export . analysts and admins (data of every project)
judge .......................... analysts and admins, with the write scope
push items, start/cancel jobs .. admins, with the write scope
create projects, promote ....... admins, with the admin scope
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from webapp.annotation.models import Project
from webapp.annotation.selectors import user_can_adjudicate, user_is_admin
from webapp.api.auth import require_scope
from webapp.api.selectors import projects_for_api
from webapp.audit.services import Via, audit_record

NOT_A_MEMBER = "You are not a rater, analyst or admin of this project."
ANALYSTS_ONLY = "Only analysts and admins can read a project's data."
ADMINS_ONLY = "Only admins can do this."


def project_visible(request: HttpRequest, slug: str, scope: str = "read") -> Project:
    require_scope(request, scope)
    project = get_object_or_404(Project, slug=slug)
    if not projects_for_api(request.user).filter(pk=project.pk).exists():
        raise PermissionDenied(NOT_A_MEMBER)
    return project


def project_data(request: HttpRequest, slug: str, scope: str = "read") -> Project:
    require_scope(request, scope)
    if not user_can_adjudicate(request.user):
        raise PermissionDenied(ANALYSTS_ONLY)
    return get_object_or_404(Project, slug=slug)


def require_admin(request: HttpRequest, scope: str = "write") -> None:
    require_scope(request, scope)
    if not user_is_admin(request.user):
        raise PermissionDenied(ADMINS_ONLY)


def project_admin(request: HttpRequest, slug: str, scope: str = "write") -> Project:
    require_admin(request, scope)
    return get_object_or_404(Project, slug=slug)


def audit(request: HttpRequest, action: str, obj=None, **summary) -> None:
    """Audit an API-only action (judging). Changes made through a service (promote, start or
    cancel a job, push items, create a project) are audited by the service itself."""
    audit_record(actor=request.user, via=Via.of(request), action=action, obj=obj, summary=summary)
