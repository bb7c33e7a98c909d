"""Admin screens to import interchange JSONL into a project and download its exports."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from judging.task_format import FormatError
from webapp.annotation.management.commands.export_examples import EXPORTERS
from webapp.annotation.models import Project
from webapp.annotation.selectors import user_is_admin
from webapp.annotation.transfer import examples_import

SUFFIX = {"jsonl": ".jsonl", "pairs": ".pairs.jsonl", "csv": ".csv"}


def _admin_project(request: HttpRequest, slug: str) -> Project:
    if not user_is_admin(request.user):
        raise PermissionDenied("Only admins import and export data.")
    return get_object_or_404(Project, slug=slug)


@login_required
@require_GET
def data_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = _admin_project(request, slug)
    return render(request, "annotation/data.html", {"project": project, "formats": SUFFIX})


@login_required
@require_POST
def data_import(request: HttpRequest, slug: str) -> HttpResponse:
    project = _admin_project(request, slug)
    upload = request.FILES.get("file")
    context = {"project": project, "formats": SUFFIX}
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
                heldout = int(request.POST.get("heldout_percent") or 0)
                result = examples_import(
                    project=project, path=path, heldout_percent=max(0, min(heldout, 100))
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
    project = _admin_project(request, slug)
    if fmt not in EXPORTERS:
        raise Http404("unknown export format")
    handle = tempfile.NamedTemporaryFile(suffix=SUFFIX[fmt])  # removed when the response closes
    EXPORTERS[fmt](project=project, path=handle.name)
    return FileResponse(
        open(handle.name, "rb"), as_attachment=True, filename=f"{project.slug}{SUFFIX[fmt]}"
    )
