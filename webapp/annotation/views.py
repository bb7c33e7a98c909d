"""Rater screens: the queue, label submission and the reveal of the autorater's verdict."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from webapp.annotation.models import Item, Project
from webapp.annotation.selectors import (
    annotation_for,
    project_list_for_user,
    project_progress,
    user_is_admin,
)
from webapp.annotation.services import annotation_submit, assignment_claim_next
from webapp.autoraters.selectors import judgment_for, version_promoted_for

KEYS = {"A": "a", "B": "b", "tie": "t"}


def _project_for(request: HttpRequest, slug: str) -> Project:
    project = get_object_or_404(Project, slug=slug)
    if not project_list_for_user(request.user).filter(pk=project.pk).exists():
        raise PermissionDenied("You are not a rater of this project.")
    return project


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    projects = project_list_for_user(request.user)
    return render(
        request,
        "annotation/home.html",
        {"projects": projects, "is_admin": user_is_admin(request.user)},
    )


def _item_context(request: HttpRequest, project: Project, item: Item | None) -> dict:
    context = {
        "project": project,
        "item": item,
        "progress": project_progress(project=project, user=request.user),
        "is_admin": user_is_admin(request.user),
    }
    if item is not None:
        context["responses"] = [
            (label, item.context.get(f"response {label}", "")) for label in ("A", "B")
        ]
        context["other_fields"] = [
            (field, item.context.get(field, ""))
            for field in item.task.context_fields
            if not field.startswith("response ")
        ]
        context["choices"] = [(label, KEYS.get(label, "")) for label in item.task.labels]
        context["submission_key"] = uuid.uuid4().hex
    return context


@login_required
@require_GET
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_for(request, slug)
    item = assignment_claim_next(project=project, rater=request.user)
    context = _item_context(request, project, item)
    if request.htmx:
        return render(request, "annotation/queue.html#item-panel", context)
    return render(request, "annotation/queue.html", context)


def _reveal_context(request: HttpRequest, project: Project, item: Item) -> dict:
    version = version_promoted_for(project.pk)
    return {
        "project": project,
        "item": item,
        "annotation": annotation_for(item=item, user=request.user),
        "version": version,
        "judgment": judgment_for(item_id=item.pk, version=version),
    }


@login_required
@require_POST
def submit_label(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = _project_for(request, slug)
    item = get_object_or_404(Item.objects.select_related("task"), pk=item_id, project=project)
    try:
        annotation_submit(
            item=item,
            annotator=request.user,
            label=request.POST.get("label", ""),
            submission_key=request.POST.get("submission_key") or uuid.uuid4().hex,
        )
    except ValidationError as error:
        return HttpResponseBadRequest("; ".join(error.messages))
    template = "annotation/reveal.html" if request.htmx else "annotation/reveal_page.html"
    return render(request, template, _reveal_context(request, project, item))


@login_required
@require_GET
def autorater_verdict(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """The autorater's verdict for an item; blind-first, so only after the rater labelled it."""
    project = _project_for(request, slug)
    item = get_object_or_404(Item.objects.select_related("task"), pk=item_id, project=project)
    context = _reveal_context(request, project, item)
    if context["annotation"] is None:
        raise PermissionDenied("Label the item first: the autorater's verdict is shown after.")
    return render(request, "annotation/reveal.html#autorater-verdict", context)
