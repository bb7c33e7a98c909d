"""Admin screens for the autorater: versions, retraining and live progress."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from webapp.annotation.access import project_for_admin
from webapp.autoraters.selectors import version_list_for
from webapp.jobs.models import TrainingRun
from webapp.jobs.services import training_run_request


@login_required
@require_GET
def autorater_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
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
    project = project_for_admin(request.user, slug)
    run = training_run_request(
        project=project, trigger=TrainingRun.Trigger.MANUAL, requested_by=request.user
    )
    return render(request, "jobs/autorater.html#run-panel", {"project": project, "run": run})


@login_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("project"), pk=run_id)
    project_for_admin(request.user, run.project.slug)
    response = render(
        request, "jobs/autorater.html#run-panel", {"project": run.project, "run": run}
    )
    if not run.is_active:
        # Tell the page to refresh its versions table once the run has finished.
        response["HX-Trigger"] = "run-finished"
    return response
