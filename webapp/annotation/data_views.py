"""Admin screens to import interchange JSONL into a project and download its exports."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from judging.task_format import FormatError
from webapp.annotation.access import project_for_admin
from webapp.annotation.transfer import DEFAULT_HELDOUT_PERCENT, EXPORTERS, examples_import
from webapp.audit.services import Via

SUFFIX = {"jsonl": ".jsonl", "pairs": ".pairs.jsonl", "csv": ".csv"}


@login_required
@require_GET
def data_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    return render(request, "annotation/data.html", _context(project))


def _context(project) -> dict:
    return {"project": project, "formats": SUFFIX, "default_heldout": DEFAULT_HELDOUT_PERCENT}


@login_required
@require_POST
def data_import(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    upload = request.FILES.get("file")
    context = _context(project)
    if upload is None:
        context["error"] = "Choose an interchange JSONL file to import."
    elif upload.size > settings.EMBER_MAX_IMPORT_BYTES:
        context["error"] = (
            f"{upload.name}: {upload.size} bytes is over the limit of "
            f"{settings.EMBER_MAX_IMPORT_BYTES} bytes; use manage.py import_examples."
        )
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(upload.name).name
            with open(path, "wb") as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
            try:
                heldout = request.POST.get("heldout_percent", "").strip()
                heldout = int(heldout) if heldout else DEFAULT_HELDOUT_PERCENT
                result = examples_import(
                    project=project,
                    path=path,
                    heldout_percent=max(0, min(heldout, 100)),
                    gold=request.POST.get("gold") == "on",
                    actor=request.user,
                    via=Via.of(request),
                )
                context["result"] = result
                context["per_task"] = sorted(result.per_task.items())
            except (FormatError, ValidationError, ValueError) as error:
                message = "; ".join(error.messages) if isinstance(error, ValidationError) else error
                context["error"] = f"Nothing was imported. {message}".replace(folder + "/", "")
    template = "annotation/data.html#import-result" if request.htmx else "annotation/data.html"
    return render(request, template, context)


@login_required
@require_GET
def data_export(request: HttpRequest, slug: str, fmt: str) -> FileResponse:
    project = project_for_admin(request.user, slug)
    if fmt not in EXPORTERS:
        raise Http404("unknown export format")
    handle = tempfile.NamedTemporaryFile(suffix=SUFFIX[fmt])  # removed when the response closes
    EXPORTERS[fmt](project=project, path=handle.name)
    return FileResponse(
        open(handle.name, "rb"), as_attachment=True, filename=f"{project.slug}{SUFFIX[fmt]}"
    )
