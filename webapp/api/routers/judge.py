"""Verdicts from the live autorater: a small batch now, a larger one as a queued job."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from judging.task_format import Example, validate_example
from webapp.annotation.models import Item
from webapp.annotation.selectors import task_of
from webapp.api.access import audit, project_data
from webapp.api.errors import ApiError
from webapp.api.schemas import ErrorOut, JudgeIn, JudgeJobOut, JudgeOut
from webapp.api.selectors import judge_job_progress
from webapp.api.services import judge_job_create
from webapp.autoraters.models import ModelJudgment
from webapp.autoraters.selectors import version_promoted_for
from webapp.autoraters.services import _judge_for, judge_items

router = Router(tags=["judge"])
ERRORS = {
    503: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
}
NO_LIVE_VERSION = "This project has no live autorater yet: train one (POST .../jobs) first."
NO_CHECKPOINT = "The live autorater's checkpoint cannot be loaded; ask an admin to retrain."
NOTHING_TO_JUDGE = "Give item_ids or examples (not both)."
TOO_MANY_EXAMPLES = "At most {limit} inline examples per request; push them as items instead."
UNKNOWN_ITEMS = "Not items of this project: {ids}"


def _verdict_row(judgment: ModelJudgment) -> dict:
    return {
        "item_id": judgment.item_id,
        "example_id": judgment.item.external_id,
        "task": judgment.item.task.name,
        "label": judgment.label or None,
        "confidence": judgment.confidence,
        "probabilities": judgment.probabilities,
        "order_probabilities": judgment.order_probabilities,
        "consistent": judgment.consistent,
        "valid": judgment.valid,
        "explanation": judgment.explanation or None,
    }


def _live_judge(version):
    try:
        return _judge_for(version.checkpoint_dir)
    except (OSError, ValueError) as error:  # FileNotFoundError is an OSError
        raise ApiError(503, NO_CHECKPOINT, code="autorater_unavailable") from error


def _inline_examples(project, lines: list[dict]) -> tuple[dict, list[Example]]:
    tasks = {definition.name: task_of(definition) for definition in project.tasks.all()}
    examples = []
    for number, line in enumerate(lines, start=1):
        name = line.get("task")
        name = name.get("name") if isinstance(name, dict) else name
        if not isinstance(name, str) or name not in tasks:
            raise ApiError(
                404,
                f"example {number}: task {name!r} is not a task of this project",
                code="unknown_task",
            )
        try:
            example = Example.from_dict({**line, "task": name})
            validate_example(tasks[name], example)
        except (ValueError, TypeError, KeyError) as error:
            raise ApiError(422, f"example {number}: {error}") from error
        examples.append(example)
    return tasks, examples


@router.post("/projects/{slug}/judge", response={200: JudgeOut, 202: JudgeJobOut, **ERRORS})
def judge(request: HttpRequest, slug: str, body: JudgeIn):
    """Judge items (by id) or inline examples with the project's live autorater version.

    Up to EMBER_API_JUDGE_SYNC_MAX items are judged in the request (200, verdicts). More
    item ids become a judge job (202): poll /judge-jobs/{id}, then read the verdicts from
    /projects/{slug}/judgments/autorater."""
    project = project_data(request, slug, scope="write")
    if bool(body.item_ids) == bool(body.examples):
        raise ApiError(422, NOTHING_TO_JUDGE)
    limit = settings.EMBER_API_JUDGE_SYNC_MAX
    if len(body.examples) > limit:
        raise ApiError(413, TOO_MANY_EXAMPLES.format(limit=limit))
    version = version_promoted_for(project.pk)
    if version is None:
        raise ApiError(409, NO_LIVE_VERSION)
    if body.examples:
        lines = [example.model_dump(exclude_none=True) for example in body.examples]
        tasks, examples = _inline_examples(project, lines)
        verdicts = _live_judge(version).judge(tasks, examples)
        audit(request, "judge.examples", project, version=version.number, n=len(examples))
        return Status(200, {"version": version.number, "verdicts": [v.to_dict() for v in verdicts]})

    item_ids = list(dict.fromkeys(body.item_ids))
    found = set(Item.objects.filter(project=project, pk__in=item_ids).values_list("pk", flat=True))
    missing = [item_id for item_id in item_ids if item_id not in found]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
        raise ApiError(404, UNKNOWN_ITEMS.format(ids=shown), code="unknown_items")
    if len(item_ids) > limit:
        job = judge_job_create(
            project=project, version=version, item_ids=item_ids, user=request.user
        )
        audit(request, "judge.enqueue", job, version=version.number, n=len(item_ids))
        return Status(
            202,
            {
                "id": job.pk,
                "project": project.slug,
                "version": version.number,
                "created_at": job.created_at,
                **judge_job_progress(job),
            },
        )
    judged = ModelJudgment.objects.filter(version=version, item_id__in=item_ids)
    if judged.count() < len(item_ids):
        _live_judge(version)  # fails cleanly (503) when the checkpoint cannot be loaded
        judge_items(version_id=version.pk, item_ids=item_ids)
    judgments = {
        judgment.item_id: judgment
        for judgment in ModelJudgment.objects.filter(
            version=version, item_id__in=item_ids
        ).select_related("item", "item__task")
    }
    audit(request, "judge.items", project, version=version.number, n=len(item_ids))
    return Status(
        200,
        {
            "version": version.number,
            "verdicts": [_verdict_row(judgments[item_id]) for item_id in item_ids],
        },
    )
