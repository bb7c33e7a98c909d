"""Jobs: training runs (start, status, cancel) and queued judge requests."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router, Status

from webapp.api.access import project_admin, project_data
from webapp.api.errors import ApiError
from webapp.api.models import JudgeJob
from webapp.api.pagination import Page, PageQuery, paginate
from webapp.api.schemas import MAX_ID, ErrorOut, JobOut, JudgeJobOut
from webapp.api.selectors import judge_job_progress
from webapp.audit.services import Via
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_cancel, training_run_request

router = Router(tags=["jobs"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _runs():
    return TrainingRun.objects.select_related("project", "version")


@router.get("/projects/{slug}/jobs", response={200: Page[JobOut], 400: ErrorOut, **ERRORS})
def list_jobs(request: HttpRequest, slug: str, page: Query[PageQuery]):
    project = project_data(request, slug)
    return paginate(_runs().filter(project=project), page)


@router.post("/projects/{slug}/jobs", response={202: JobOut, **ERRORS})
def start_job(request: HttpRequest, slug: str):
    """Start retraining the project's autorater. If a run is already queued or running, that
    run is returned instead of a second one."""
    project = project_admin(request, slug)
    run = training_run_request(
        project=project,
        trigger=TrainingRun.Trigger.MANUAL,
        actor=request.user,
        via=Via.of(request),
    )
    return Status(202, _runs().get(pk=run.pk))


@router.get("/jobs/{job_id}", response={200: JobOut, **ERRORS})
def get_job(request: HttpRequest, job_id: int = Path(..., ge=1, le=MAX_ID)):
    run = get_object_or_404(_runs(), pk=job_id)
    project_data(request, run.project.slug)
    return run


@router.post("/jobs/{job_id}/cancel", response={200: JobOut, 409: ErrorOut, **ERRORS})
def cancel_job(request: HttpRequest, job_id: int = Path(..., ge=1, le=MAX_ID)):
    """Cancel a queued or running training run (a running one stops at its next step)."""
    run = get_object_or_404(_runs(), pk=job_id)
    project_admin(request, run.project.slug)
    if not run.is_active:
        raise ApiError(409, f"Run {run.pk} has already finished ({run.status}).")
    training_run_cancel(run=run, actor=request.user, via=Via.of(request))
    return _runs().get(pk=run.pk)


@router.get("/judge-jobs/{job_id}", response={200: JudgeJobOut, **ERRORS})
def get_judge_job(request: HttpRequest, job_id: int = Path(..., ge=1, le=MAX_ID)):
    """Progress of a queued judge request; its verdicts are the autorater judgments."""
    job = get_object_or_404(JudgeJob.objects.select_related("project", "version"), pk=job_id)
    project_data(request, job.project.slug)
    return {
        "id": job.pk,
        "project": job.project.slug,
        "version": job.version.number if job.version else None,
        "created_at": job.created_at,
        **judge_job_progress(job),
    }
