"""Admin pages to create and edit a project and its rubrics, with a live preview of the
rater's screen (the real queue template, rendered with a sample item)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from judging.task_format import TaskType
from webapp.annotation.access import project_for_admin
from webapp.annotation.models import Item, TaskDefinition
from webapp.annotation.project_forms import ProjectForm, RubricForm
from webapp.annotation.project_services import (
    project_create_with_settings,
    project_settings_update,
    rubric_create,
    rubric_has_labels,
    rubric_update,
)
from webapp.annotation.selectors import user_is_admin
from webapp.annotation.views import _choices, _content_context
from webapp.audit.services import Via

PREVIEW_TEXT = {
    "response A": "The capital of France is **Paris**.",
    "response B": "I think it is Lyon.",
}


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest) -> HttpResponse:
    if not user_is_admin(request.user):
        raise PermissionDenied("Only admins can create projects.")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = project_create_with_settings(
            slug=form.cleaned_data["slug"],
            settings=form.settings(),
            actor=request.user,
            via=Via.of(request),
        )
        return redirect("project-settings", project.slug)
    return render(request, "annotation/projects/project_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    form = ProjectForm(request.POST or None, project=project)
    saved = None
    if request.method == "POST" and form.is_valid():
        saved = project_settings_update(
            project=project, settings=form.settings(), actor=request.user, via=Via.of(request)
        )
    rubrics = (
        TaskDefinition.objects.filter(project=project)
        .annotate(n_items=Count("items"))
        .order_by("retired", "name")
    )
    return render(
        request,
        "annotation/projects/project_form.html",
        {"form": form, "project": project, "rubrics": rubrics, "saved": saved},
    )


def _rubric_page(request, project, form, definition=None, **extra) -> HttpResponse:
    context = {
        "project": project,
        "form": form,
        "definition": definition,
        "has_labels": definition is not None and rubric_has_labels(definition),
        **extra,
    }
    context.update(_preview_context(project, form, definition))
    return render(request, "annotation/projects/rubric_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rubric_new(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    form = RubricForm(request.POST or None, initial=None if request.POST else {"type": "pairwise"})
    if request.method == "POST" and form.is_valid():
        try:
            definition = rubric_create(
                project=project,
                task=form.cleaned_data["task"],
                actor=request.user,
                via=Via.of(request),
            )
        except ValidationError as error:
            form.add_error("name", error)
        else:
            url = redirect("rubric-edit", project.slug, definition.pk).url
            return redirect(f"{url}?saved=1")
    return _rubric_page(request, project, form)


@login_required
@require_http_methods(["GET", "POST"])
def rubric_edit(request: HttpRequest, slug: str, task_id: int) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    definition = get_object_or_404(TaskDefinition, pk=task_id, project=project)
    if definition.retired and request.method == "POST":
        raise Http404("This version is retired; edit the newest version of the rubric.")
    form = RubricForm(request.POST or None, definition=definition)
    if request.method == "POST" and form.is_valid():
        try:
            saved = rubric_update(
                definition=definition,
                task=form.cleaned_data["task"],
                actor=request.user,
                via=Via.of(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            url = redirect("rubric-edit", project.slug, saved.definition.pk).url
            return redirect(f"{url}?{'versioned' if saved.new_version else 'saved'}=1")
    versions = TaskDefinition.objects.filter(project=project, name__startswith=_root(definition))
    return _rubric_page(
        request,
        project,
        form,
        definition,
        versions=versions.order_by("-version"),
        saved=request.GET.get("saved"),
        versioned=request.GET.get("versioned"),
    )


def _root(definition: TaskDefinition) -> str:
    return definition.name.rsplit("-v", 1)[0] if definition.version > 1 else definition.name


@login_required
@require_POST
def rubric_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """The rater's screen for the rubric as the form holds it now (htmx, on every change)."""
    project = project_for_admin(request.user, slug)
    definition = None
    task_id = request.POST.get("definition", "")
    if task_id.isdigit():
        definition = TaskDefinition.objects.filter(pk=int(task_id), project=project).first()
    form = RubricForm(request.POST, definition=definition)
    context = {"project": project, **_preview_context(project, form, definition)}
    return render(request, "annotation/projects/_preview.html", context)


def _preview_context(project, form: RubricForm, definition) -> dict:
    if not form.is_bound:
        if definition is None:
            return {"preview_error": "Fill in the rubric to see the rater's screen."}
        form = RubricForm(form.initial, definition=definition)
    if not form.is_valid():
        errors = [str(e) for field in form.errors.values() for e in field]
        return {"preview_error": " ".join(errors)}
    task = form.cleaned_data["task"]
    sample = None
    if definition is not None:  # one of its items, or of the version it replaced
        sample = Item.objects.filter(task__in=[definition.pk, definition.previous_id]).first()
    context = {
        field: sample.context.get(field, "") if sample else PREVIEW_TEXT.get(field, f"({field})")
        for field in task.context_fields
    }
    item = Item(pk=0, project=project, context=context, reference="")
    return {
        "preview": True,
        "item": item,
        "progress": {"total": 0, "done": 0, "skipped": 0},
        **_content_context(task, item),
        "kind": task.type.value if task.scale is None else "scale",
        "choices": _choices(task) if task.type is not TaskType.OPEN_ENDED else [],
    }
