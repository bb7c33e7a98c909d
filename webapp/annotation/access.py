"""Who may open a project's pages: raters (their projects), analysts and admins."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from webapp.annotation.models import Project
from webapp.annotation.selectors import (
    project_for_member,
    user_can_adjudicate,
    user_is_admin,
)


def project_for_rater(user, slug: str) -> Project:
    project = project_for_member(slug=slug, user=user)
    if project is None:
        raise Http404("No such project.")
    if not (project.user_is_rater or user_is_admin(user)):
        raise PermissionDenied("You are not a rater of this project.")
    return project


def project_for_admin(user, slug: str) -> Project:
    if not user_is_admin(user):
        raise PermissionDenied("Only admins can do this.")
    return get_object_or_404(Project, slug=slug)


def project_for_adjudicator(user, slug: str) -> Project:
    if not user_can_adjudicate(user):
        raise PermissionDenied("Only analysts and admins can do this.")
    return get_object_or_404(Project, slug=slug)
