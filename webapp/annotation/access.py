"""Who may open a project's pages: its members, by their role in it (webapp.annotation.models.
Membership: rater < analyst < admin, each including the ones before). Superusers are admins of
every project. A project that does not exist is 404; one the user has no (high enough) role in,
403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from webapp.annotation.models import ROLE_RANK, Membership, Project
from webapp.annotation.selectors import project_for_member, project_role

NOT_A_MEMBER = "You have no role in this project."
ANALYSTS_ONLY = "Only the project's analysts and admins can do this."
ADMINS_ONLY = "Only the project's admins can do this."


def project_with_role(user, slug: str, role: str, refusal: str) -> Project:
    """The project by slug if the user holds `role` (or a higher one) in it."""
    project = project_for_member(slug=slug, user=user)
    if project is None:
        raise Http404("No such project.")
    held = project_role(user, project)
    if held is None or ROLE_RANK[held] < ROLE_RANK[role]:
        raise PermissionDenied(refusal)
    return project


def project_for_rater(user, slug: str) -> Project:
    return project_with_role(user, slug, Membership.Role.RATER, NOT_A_MEMBER)


def project_for_adjudicator(user, slug: str) -> Project:
    return project_with_role(user, slug, Membership.Role.ANALYST, ANALYSTS_ONLY)


def project_for_admin(user, slug: str) -> Project:
    return project_with_role(user, slug, Membership.Role.ADMIN, ADMINS_ONLY)
