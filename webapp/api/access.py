"""What a token may reach: its scope (read < write < admin) AND its user's role in the project
(webapp.annotation.models.Membership; superusers are admins of every project).

projects, tasks ................ the project's raters, analysts and admins
items, judgments, jobs, export . the project's analysts and admins
judge .......................... the project's analysts and admins, with the write scope
push items, start/cancel jobs .. the project's admins, with the write scope
promote ........................ the project's admins, with the admin scope
create projects, audit log ..... site admins (superusers, the "admin" group), admin scope
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from webapp.annotation.models import Membership, Project
from webapp.annotation.selectors import user_has_role, user_is_admin
from webapp.api.auth import require_scope
from webapp.audit.services import Via, audit_record

NOT_A_MEMBER = "You are not a rater, analyst or admin of this project."
ANALYSTS_ONLY = "Only the project's analysts and admins can read its data."
ADMINS_ONLY = "Only admins can do this."
PROJECT_ADMINS_ONLY = "Only the project's admins can do this."


def _project_with_role(request, slug, scope, role, refusal) -> Project:
    require_scope(request, scope)
    project = get_object_or_404(Project, slug=slug)
    if not user_has_role(request.user, project, role):
        raise PermissionDenied(refusal)
    return project


def project_visible(request: HttpRequest, slug: str, scope: str = "read") -> Project:
    return _project_with_role(request, slug, scope, Membership.Role.RATER, NOT_A_MEMBER)


def project_data(request: HttpRequest, slug: str, scope: str = "read") -> Project:
    return _project_with_role(request, slug, scope, Membership.Role.ANALYST, ANALYSTS_ONLY)


def project_admin(request: HttpRequest, slug: str, scope: str = "write") -> Project:
    return _project_with_role(request, slug, scope, Membership.Role.ADMIN, PROJECT_ADMINS_ONLY)


def require_admin(request: HttpRequest, scope: str = "write") -> None:
    """Site-wide actions (create a project, read the audit log): site admins only."""
    require_scope(request, scope)
    if not user_is_admin(request.user):
        raise PermissionDenied(ADMINS_ONLY)


def audit(request: HttpRequest, action: str, obj=None, **summary) -> None:
    """Audit an API-only action (judging). Changes made through a service (promote, start or
    cancel a job, push items, create a project) are audited by the service itself."""
    audit_record(actor=request.user, via=Via.of(request), action=action, obj=obj, summary=summary)
