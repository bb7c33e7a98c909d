"""A project's people page (its admins): members with their roles, add a user, change a role,
remove a member, invite with a one-time link; and the invitation page anyone with the link opens."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.annotation.access import project_for_admin
from webapp.annotation.models import Invite, Membership, Project
from webapp.annotation.people_services import (
    invite_accept,
    invite_create,
    invite_for_secret,
    invite_revoke,
    member_add,
    member_remove,
    member_role_set,
)
from webapp.annotation.selectors import project_invites_open, project_members
from webapp.audit.services import Via


def _people_page(request: HttpRequest, project: Project, *, status: int = 200, **extra):
    context = {
        "project": project,
        "members": project_members(project),
        "invites": project_invites_open(project),
        "roles": Membership.Role.choices,
        **extra,
    }
    return render(request, "annotation/people.html", context, status=status)


def _error(request, project, invalid: ValidationError) -> HttpResponse:
    return _people_page(request, project, status=400, error="; ".join(invalid.messages))


@login_required
@require_GET
def people(request: HttpRequest, slug: str) -> HttpResponse:
    return _people_page(request, project_for_admin(request.user, slug))


@login_required
@require_POST
def member_add_view(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    try:
        member_add(
            project=project,
            username=request.POST.get("username", ""),
            role=request.POST.get("role", ""),
            actor=request.user,
            via=Via.of(request),
        )
    except ValidationError as invalid:
        return _error(request, project, invalid)
    return redirect("people", slug)


@login_required
@require_POST
def member_role_view(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    try:
        member_role_set(
            project=project,
            user_id=user_id,
            role=request.POST.get("role", ""),
            actor=request.user,
            via=Via.of(request),
        )
    except ValidationError as invalid:
        return _error(request, project, invalid)
    return redirect("people", slug)


@login_required
@require_POST
def member_remove_view(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    try:
        member_remove(project=project, user_id=user_id, actor=request.user, via=Via.of(request))
    except ValidationError as invalid:
        return _error(request, project, invalid)
    return redirect("people", slug)


@login_required
@require_POST
def invite_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    try:
        invite, secret = invite_create(
            project=project,
            role=request.POST.get("role", ""),
            note=request.POST.get("note", ""),
            actor=request.user,
            via=Via.of(request),
        )
    except ValidationError as invalid:
        return _error(request, project, invalid)
    link = request.build_absolute_uri(reverse("invite-accept", args=[secret]))
    return _people_page(request, project, new_invite=invite, new_link=link)


@login_required
@require_POST
def invite_revoke_view(request: HttpRequest, slug: str, invite_id: int) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    invite = get_object_or_404(Invite, pk=invite_id, project=project)
    invite_revoke(invite=invite, actor=request.user, via=Via.of(request))
    return redirect("people", slug)


@require_http_methods(["GET", "POST"])
def invite_accept_view(request: HttpRequest, secret: str) -> HttpResponse:
    """Open to anyone holding the link: a new person sets a username and password; somebody
    logged in joins with their own account."""
    invite = invite_for_secret(secret)
    if invite is None:
        raise Http404("This invitation link is not valid: it was used, revoked or has expired.")
    context = {"invite": invite, "username": ""}
    if request.method == "POST":
        existing = request.user if request.user.is_authenticated else None
        try:
            user = invite_accept(
                secret=secret,
                user=existing,
                username=request.POST.get("username", ""),
                password=request.POST.get("password", ""),
                password_again=request.POST.get("password_again", ""),
                via=Via.of(request),
            )
        except ValidationError as invalid:
            context.update(
                error="; ".join(invalid.messages), username=request.POST.get("username", "")
            )
            return render(request, "annotation/invite_accept.html", context, status=400)
        if existing is None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "annotation/invite_accept.html", context)
