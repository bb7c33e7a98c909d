"""An autorater version's evaluation report: numbers and pictures (admins and analysts)."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from webapp.annotation.selectors import user_can_adjudicate
from webapp.autoraters.models import AutoraterVersion


def _report(request: HttpRequest, version_id: int) -> tuple[AutoraterVersion, dict]:
    version = get_object_or_404(AutoraterVersion.objects.select_related("project"), pk=version_id)
    if not user_can_adjudicate(request.user, version.project):
        raise PermissionDenied("Only the project's analysts and admins read evaluation reports.")
    path = Path(version.report_dir) / "report.json"
    if not version.report_dir or not path.exists():
        raise Http404("This version has no evaluation report.")
    return version, json.loads(path.read_text())


@login_required
@require_GET
def version_report(request: HttpRequest, version_id: int) -> HttpResponse:
    version, report = _report(request, version_id)
    return render(
        request,
        "autoraters/report.html",
        {"version": version, "project": version.project, "report": report},
    )


@login_required
@require_GET
def version_report_picture(request: HttpRequest, version_id: int, name: str) -> FileResponse:
    version, report = _report(request, version_id)
    if name not in report.get("pictures", []):  # only files the report lists: no traversal
        raise Http404("No such picture.")
    return FileResponse(open(Path(version.report_dir) / name, "rb"), content_type="image/png")
