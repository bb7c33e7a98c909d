"""Admin screens for the autorater: versions and lineage, retraining with live progress,
cancel, the gate's settings, promotion and rollback by hand. Every change goes through a
service, which also writes the audit log (the same services the API calls)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from webapp.annotation.access import project_for_admin
from webapp.audit.services import Via
from webapp.autoraters.models import AutoraterVersion
from webapp.autoraters.selectors import version_list_for
from webapp.autoraters.services import version_promote, version_rollback
from webapp.retraining.forms import RetrainForm
from webapp.retraining.models import TrainingRun
from webapp.retraining.selectors import retrain_backoff_for
from webapp.retraining.services import (
    training_run_cancel,
    training_run_request,
    training_settings_for,
    training_settings_update,
)
from webapp.retraining.settings_form import ReadableTrainingSettingsForm


def _page_context(project, **extra) -> dict:
    project_settings = training_settings_for(project)
    return {
        "project": project,
        "versions": version_list_for(project.pk).select_related("parent"),
        "run": project.training_runs.first(),
        "runs": project.training_runs.all()[:10],
        "retrain_backoff": retrain_backoff_for(project),
        "retrain_form": RetrainForm(initial={"variant": project_settings.variant}),
        "settings_form": ReadableTrainingSettingsForm(instance=project_settings),
        **extra,
    }


@login_required
@require_GET
def autorater_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    context = _page_context(project)
    if request.htmx:
        return render(request, "retraining/autorater.html#versions", context)
    return render(request, "retraining/autorater.html", context)


@login_required
@require_POST
def retrain(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    form = RetrainForm(request.POST)
    error = ""
    run = project.training_runs.first()
    if not form.is_valid():
        error = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
    else:
        try:
            run = training_run_request(
                project=project,
                trigger=TrainingRun.Trigger.MANUAL,
                actor=request.user,
                via=Via.of(request),
                variant=form.cleaned_data["variant"] or None,
            )
        except ValueError as exc:
            error = str(exc)
    context = {"project": project, "run": run, "request_error": error}
    return render(
        request, "retraining/autorater.html#run-panel", context, status=400 if error else 200
    )


@login_required
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("project"), pk=run_id)
    project_for_admin(request.user, run.project.slug)
    response = render(
        request, "retraining/autorater.html#run-panel", {"project": run.project, "run": run}
    )
    if not run.is_active:
        # Tell the page to refresh its versions table once the run has finished.
        response["HX-Trigger"] = "run-finished"
    return response


@login_required
@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("project"), pk=run_id)
    project_for_admin(request.user, run.project.slug)
    run = training_run_cancel(run=run, actor=request.user, via=Via.of(request))
    return render(
        request, "retraining/autorater.html#run-panel", {"project": run.project, "run": run}
    )


@login_required
@require_POST
def training_settings_view(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    form = ReadableTrainingSettingsForm(request.POST, instance=training_settings_for(project))
    saved = form.is_valid()
    if saved:
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        training_settings_update(
            project=project, values=values, actor=request.user, via=Via.of(request)
        )
    return render(
        request,
        "retraining/autorater.html#settings",
        {"project": project, "settings_form": form, "settings_saved": saved},
        status=200 if saved else 400,
    )


@login_required
@require_POST
def version_promote_view(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(AutoraterVersion.objects.select_related("project"), pk=version_id)
    project = project_for_admin(request.user, version.project.slug)
    version_promote(version=version, actor=request.user, via=Via.of(request))
    return render(request, "retraining/autorater.html#versions", _page_context(project))


@login_required
@require_POST
def version_rollback_view(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_admin(request.user, slug)
    try:
        version_rollback(project=project, actor=request.user, via=Via.of(request))
        error = ""
    except ValueError as exc:
        error = str(exc)
    return render(
        request,
        "retraining/autorater.html#versions",
        _page_context(project, versions_error=error),
        status=400 if error else 200,
    )
