"""Admin pages to upload CSV, JSONL or pasted rows into a chosen rubric: read the rows, map the
columns (with a preview of the first rows), then import all or nothing."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from judging.task_format import FormatError
from webapp.annotation.access import project_for_admin
from webapp.annotation.models import TaskDefinition
from webapp.annotation.selectors import task_of
from webapp.annotation.table_import import (
    PREVIEW_ROWS,
    Mapping,
    TableError,
    job_progress,
    job_start,
    mapping_guess,
    table_discard,
    table_examples,
    table_import,
    table_load,
    table_read,
    table_store,
)
from webapp.annotation.tasks import upload_import_task
from webapp.audit.services import Via

# Uploads of this many rows or more are imported by a worker, the page showing its progress.
BACKGROUND_ROWS = 5000


def _background_rows() -> int:
    return getattr(settings, "EMBER_UPLOAD_BACKGROUND_ROWS", BACKGROUND_ROWS)


def _tasks(project):
    return TaskDefinition.objects.filter(project=project, retired=False).order_by("name")


@login_required
@require_http_methods(["GET", "POST"])
def upload_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1: a file (CSV or JSONL) or pasted rows, and the rubric they are for."""
    project = project_for_admin(request.user, slug)
    context = {"project": project, "tasks": _tasks(project), "error": None}
    if request.method == "POST":
        task = context["tasks"].filter(pk=request.POST.get("task") or 0).first()
        upload = request.FILES.get("file")
        pasted = request.POST.get("pasted", "")
        if task is None:
            context["error"] = "Choose the rubric these rows are for."
        elif upload is not None and upload.size > settings.EMBER_MAX_IMPORT_BYTES:
            context["error"] = (
                f"{upload.name}: {upload.size} bytes is over the limit of "
                f"{settings.EMBER_MAX_IMPORT_BYTES} bytes; use manage.py import_examples."
            )
        elif upload is None and not pasted.strip():
            context["error"] = "Choose a CSV or JSONL file, or paste rows."
        else:
            try:
                if upload is not None:
                    table = table_read(upload.name, upload.read().decode("utf-8"))
                else:
                    table = table_read("pasted rows", pasted)
            except UnicodeDecodeError:
                context["error"] = f"{upload.name}: not UTF-8 text."
            except TableError as error:
                context["error"] = str(error)
            else:
                token = table_store(table)
                url = redirect("upload-map", project.slug, token).url
                return redirect(f"{url}?task={task.pk}")
    return render(request, "annotation/projects/upload.html", context)


def _mapping_from(request, task, columns) -> Mapping:
    if request.method != "POST":
        return mapping_guess(task, columns)
    return Mapping(
        context={f: request.POST.get(f"map:{f}", "") for f in task.context_fields},
        id=request.POST.get("map_id", ""),
        label=request.POST.get("map_label", ""),
        reference=request.POST.get("map_reference", ""),
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_map(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """Step 2: map columns to the rubric's fields, choose gold and the held-out share, import."""
    project = project_for_admin(request.user, slug)
    table = table_load(token)
    if table is None:
        raise Http404("This upload is gone; upload the rows again.")
    params = request.POST if request.method == "POST" else request.GET
    definition = _tasks(project).filter(pk=params.get("task") or 0).first()
    if definition is None:
        raise Http404("No such rubric in this project.")
    task = task_of(definition)
    mapping = _mapping_from(request, task, table.columns)
    heldout = project.heldout_percent
    gold = False
    context = {
        "project": project,
        "definition": definition,
        "task": task,
        "table": table,
        "token": token,
        "preview": [
            (table.first_line + index, [row.get(column, "") for column in table.columns])
            for index, row in enumerate(table.rows[:PREVIEW_ROWS])
        ],
        "mapping": mapping,
        "mapping_rows": [(f, mapping.context.get(f, "")) for f in task.context_fields],
        "errors": [],
    }
    if request.method == "POST":
        gold = request.POST.get("gold") == "on"
        try:
            heldout = max(0, min(int(request.POST.get("heldout_percent", heldout)), 100))
        except ValueError:
            context["error"] = "The held-out share must be a whole number from 0 to 100."
        examples, errors = table_examples(table, task, mapping, gold=gold)
        context["errors"] = errors
        if not errors and "error" not in context and len(examples) >= _background_rows():
            context["job"] = job_start(
                token=token,
                definition=definition,
                mapping=mapping,
                gold=gold,
                heldout=heldout,
                total=len(examples),
                actor_id=request.user.pk,
            )
            upload_import_task.delay(token)
        elif not errors and "error" not in context:
            try:
                result = table_import(
                    definition=definition,
                    examples=examples,
                    heldout_percent=heldout,
                    gold=gold,
                    actor=request.user,
                    via=Via.of(request),
                )
            except (FormatError, ValidationError, ValueError) as error:
                message = "; ".join(error.messages) if isinstance(error, ValidationError) else error
                context["error"] = f"Nothing was imported. {message}"
            else:
                table_discard(token)
                context["result"] = result
    context.update(heldout=heldout, gold=gold)
    return render(request, "annotation/projects/upload_map.html", context)


@login_required
@require_GET
def upload_progress(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """How far a worker has got with a large upload (polled by the mapping page)."""
    project = project_for_admin(request.user, slug)
    job = job_progress(token)
    if job is None or job["project"] != project.slug:
        raise Http404("No such upload in this project.")
    context = {"project": project, "token": token, "job": job}
    return render(request, "annotation/projects/_upload_progress.html", context)
