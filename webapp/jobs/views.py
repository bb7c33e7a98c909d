"""Admin screens for the autorater: versions, retraining and live progress."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from webapp.annotation.models import Project
from webapp.annotation.selectors import user_is_admin
from webapp.autoraters.selectors import version_list_for
from webapp.jobs.models import TrainingRun
from webapp.jobs.services import training_run_request


def _admin_project(request: HttpRequest, slug: str) -> Project:
    if not user_is_admin(request.user):
        raise PermissionDenied("Only admins manage the autorater.")
    return get_object_or_404(Project, slug=slug)


@login_required
@require_GET
def autorater_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = _admin_project(request, slug)
    context = {
        "project": project,
        "versions": version_list_for(project.pk),
        "runs": project.training_runs.all()[:10],
        "run": project.training_runs.first(),
    }
    if request.htmx:
        return render(request, "jobs/autorater.html#versions", context)
    return render(request, "jobs/autorater.html", context)


@login_required
@require_POST
def retrain(request: HttpRequest, slug: str) -> HttpResponse:
    project = _admin_project(request, slug)
    run = training_run_request(
        project=project, trigger=TrainingRun.Trigger.MANUAL, requested_by=request.user
    )
    return render(request, "jobs/autorater.html#run-panel", {"project": project, "run": run})


@login_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("project"), pk=run_id)
    _admin_project(request, run.project.slug)
    response = render(
        request, "jobs/autorater.html#run-panel", {"project": run.project, "run": run}
    )
    if not run.is_active:
        # Tell the page to refresh its versions table once the run has finished.
        response["HX-Trigger"] = "run-finished"
    return response
