"""Reads for the API: which projects a user reaches, tokens, judge job progress."""

from __future__ import annotations

from django.db.models import QuerySet

from webapp.annotation.models import Project
from webapp.annotation.selectors import project_list_for_user
from webapp.api.models import ApiToken, JudgeJob
from webapp.autoraters.models import ModelJudgment


def projects_for_api(user) -> QuerySet[Project]:
    """The projects the user has a role in (every project for a superuser)."""
    return project_list_for_user(user).order_by("name", "pk")


def tokens_for_user(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def judge_job_progress(job: JudgeJob) -> dict:
    total = len(job.item_ids)
    if job.version_id is None:
        return {"status": "failed", "total": total, "judged": 0}
    judged = ModelJudgment.objects.filter(version_id=job.version_id, item_id__in=job.item_ids)
    done = judged.count()
    return {"status": "done" if done >= total else "queued", "total": total, "judged": done}
