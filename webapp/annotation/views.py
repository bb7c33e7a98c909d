"""Rater screens: the queue (every task type), submit, skip/flag, reveal, revise, adjudicate."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from judging.task_format import RESPONSE_A, RESPONSE_B, TaskType
from webapp.annotation.access import (
    project_for_adjudicator,
    project_for_admin,
    project_for_rater,
)
from webapp.annotation.models import Annotation, Item, Project
from webapp.annotation.rater_services import (
    annotation_revise,
    annotation_skip,
    annotation_submit,
    annotation_tag_disagreement,
    assignment_claim_next,
)
from webapp.annotation.selectors import (
    annotation_for,
    annotation_history,
    current_labels,
    item_of_project,
    items_needing_adjudication,
    project_list_for_user,
    project_progress,
    rater_gold_accuracy,
    task_of,
    user_is_admin,
    user_is_project_admin,
)
from webapp.annotation.services import item_adjudicate, item_gold_set
from webapp.audit.services import Via
from webapp.autoraters.selectors import judgment_for, version_promoted_for

PAIRWISE_KEYS = {"A": "a", "B": "b", "tie": "t"}


def _item_of(project: Project, item_id: int) -> Item:
    item = item_of_project(item_id=item_id, project=project)
    if item is None:
        raise Http404("No such item in this project.")
    return item


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    projects = project_list_for_user(request.user)
    return render(
        request,
        "annotation/home.html",
        {
            "projects": projects,
            "can_create_projects": user_is_admin(request.user),
        },
    )


def _choices(task) -> list[tuple[str, str, str]]:
    """(label, key, caption) for each button of a closed label space."""
    if task.type is TaskType.PAIRWISE:
        captions = {"A": "A is better", "B": "B is better", "tie": "Tie"}
        return [(lbl, PAIRWISE_KEYS.get(lbl, ""), captions.get(lbl, lbl)) for lbl in task.labels]
    keys = "123456789" if len(task.labels) <= 9 else ""
    return [(label, keys[index] if keys else "", label) for index, label in enumerate(task.labels)]


def _content_context(task, item: Item) -> dict:
    """The item's text as the rater screens show it: context fields, and the two responses of a
    pairwise item side by side."""
    pairwise = task.type is TaskType.PAIRWISE
    return {
        "task": task,
        "fields": [
            (field, item.context.get(field, ""))
            for field in task.context_fields
            if not (pairwise and field in (RESPONSE_A, RESPONSE_B))
        ],
        "responses": [(lbl, item.context.get(f"response {lbl}", "")) for lbl in ("A", "B")]
        if pairwise
        else [],
    }


def _item_context(
    request: HttpRequest, project: Project, item: Item | None, *, mine=None, **extra
) -> dict:
    """What the item panel shows; `mine` is the rater's current label when they revise it (a
    freshly claimed item has none: the claim passes over items the rater labelled)."""
    context = {
        "project": project,
        "item": item,
        "progress": project_progress(project=project, user=request.user),
        **extra,
    }
    if item is None:
        return context
    task = task_of(item.task)
    context.update(
        _content_context(task, item),
        kind=task.type.value if task.scale is None else "scale",
        choices=_choices(task),
        submission_key=uuid.uuid4().hex,
        mine=mine,
    )
    if project.reveal_autorater_before_submit:
        context.update(_verdict_context(project, item))
    return context


def _verdict_context(project: Project, item: Item) -> dict:
    version = version_promoted_for(project.pk)
    judgment = judgment_for(item_id=item.pk, version=version) if version else None
    trained = (version.config.get("per_task_examples") or {}) if version else {}
    return {"version": version, "judgment": judgment, "trained_on_task": item.task.name in trained}


def _panel(request: HttpRequest, context: dict) -> HttpResponse:
    if request.htmx:
        return render(request, "annotation/queue.html#item-panel", context)
    return render(request, "annotation/queue.html", context)


@login_required
@require_GET
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    """The next item. `?after=ID` preloads the one after the item on screen."""
    project = project_for_rater(request.user, slug)
    after = request.GET.get("after", "")
    exclude = [int(after)] if after.isdigit() else []
    item = assignment_claim_next(project=project, rater=request.user, exclude_item_ids=exclude)
    return _panel(request, _item_context(request, project, item))


@login_required
@require_GET
def item_edit(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """An item the rater already labelled, to change the label (a new revision)."""
    project = project_for_rater(request.user, slug)
    item = _item_of(project, item_id)
    mine = annotation_for(item=item, user=request.user)
    if mine is None:
        raise PermissionDenied("You have not labelled this item.")
    history = annotation_history(item=item, user=request.user)
    context = _item_context(request, project, item, mine=mine, revising=True, history=history)
    return _panel(request, context)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _seconds_or_none(value: str | None) -> float | None:
    """The page's measured time on the item (a timing hint, not the rater's input: a value
    that is not a number is dropped rather than refusing the label; the service clamps it)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _reveal_context(
    request: HttpRequest, project: Project, item: Item, annotation: Annotation | None = None
) -> dict:
    """The rater's verdict beside the autorater's; `annotation`: their current label if the
    caller has it at hand (it is read otherwise)."""
    if annotation is None:
        annotation = annotation_for(item=item, user=request.user)
    context = {
        "project": project,
        "item": item,
        "annotation": annotation,
        "tags": Annotation.DisagreementTag.choices,
        "gold": rater_gold_accuracy(project=project, user=request.user) if item.is_gold else None,
        **_verdict_context(project, item),
        **_content_context(task_of(item.task), item),
    }
    judgment = context["judgment"]
    context["disagrees"] = bool(
        annotation and judgment and judgment.label and judgment.label != annotation.label
    )
    return context


def _reveal(
    request: HttpRequest, project: Project, item: Item, annotation: Annotation | None = None
) -> HttpResponse:
    template = "annotation/reveal.html" if request.htmx else "annotation/reveal_page.html"
    return render(request, template, _reveal_context(request, project, item, annotation))


@login_required
@require_POST
def submit_label(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = project_for_rater(request.user, slug)
    item = _item_of(project, item_id)
    key = request.POST.get("submission_key") or uuid.uuid4().hex
    try:
        if request.POST.get("revise"):
            annotation, created = annotation_revise(
                item=item,
                annotator=request.user,
                label=request.POST.get("label", ""),
                submission_key=key,
                reason=request.POST.get("reason", ""),
            )
        else:
            annotation, created = annotation_submit(
                item=item,
                annotator=request.user,
                label=request.POST.get("label", ""),
                submission_key=key,
                confidence=_int_or_none(request.POST.get("confidence")),
                reason=request.POST.get("reason", ""),
                client_seconds=_seconds_or_none(request.POST.get("seconds_visible")),
            )
    except ValidationError as error:
        return HttpResponseBadRequest("; ".join(error.messages))
    # A new label is the current one; a replayed submission reads what is current now.
    return _reveal(request, project, item, annotation if created else None)


@login_required
@require_POST
def skip_item(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = project_for_rater(request.user, slug)
    item = _item_of(project, item_id)
    annotation_skip(
        item=item,
        rater=request.user,
        flagged=bool(request.POST.get("flag")),
        reason=request.POST.get("reason", ""),
    )
    following = assignment_claim_next(project=project, rater=request.user)
    return _panel(request, _item_context(request, project, following))


@login_required
@require_POST
def tag_disagreement(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = project_for_rater(request.user, slug)
    item = _item_of(project, item_id)
    annotation = annotation_for(item=item, user=request.user)
    if annotation is None:
        raise PermissionDenied("Label the item first.")
    try:
        annotation_tag_disagreement(annotation=annotation, tag=request.POST.get("tag", ""))
    except ValidationError as error:
        return HttpResponseBadRequest("; ".join(error.messages))
    return _reveal(request, project, item)


@login_required
@require_GET
def autorater_verdict(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """The autorater's verdict for an item; blind-first, so only after the rater labelled it."""
    project = project_for_rater(request.user, slug)
    item = _item_of(project, item_id)
    context = _reveal_context(request, project, item)
    if context["annotation"] is None and not project.reveal_autorater_before_submit:
        raise PermissionDenied("Label the item first: the autorater's verdict is shown after.")
    return render(request, "annotation/reveal.html#autorater-verdict", context)


@login_required
@require_GET
def adjudication(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_adjudicator(request.user, slug)
    items = list(items_needing_adjudication(project)[:200])
    return render(request, "annotation/adjudication.html", {"project": project, "items": items})


@login_required
def adjudicate_item(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = project_for_adjudicator(request.user, slug)
    item = _item_of(project, item_id)
    error = None
    if request.method == "POST":
        try:
            item = item_adjudicate(
                item=item,
                actor=request.user,
                label=request.POST.get("label", ""),
                via=Via.of(request),
            )
        except ValidationError as invalid:
            error = "; ".join(invalid.messages)
    return _adjudicate_page(request, project, item, error=error)


def _adjudicate_page(
    request: HttpRequest, project: Project, item: Item, *, status: int = 200, **errors
) -> HttpResponse:
    context = _item_context(request, project, item)
    context.update(
        labels=current_labels(item),
        is_admin=user_is_project_admin(request.user, project),
        **errors,
        **_verdict_context(project, item),
    )
    return render(request, "annotation/adjudicate.html", context, status=status)


@login_required
@require_POST
def item_gold(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """An admin marks the item gold with its known answer (`label`), or unmarks it
    (`gold=off`); back to the adjudicate page."""
    project = project_for_admin(request.user, slug)
    item = _item_of(project, item_id)
    try:
        item_gold_set(
            item=item,
            actor=request.user,
            is_gold=request.POST.get("gold") != "off",
            label=request.POST.get("label", ""),
            via=Via.of(request),
        )
    except ValidationError as invalid:
        return _adjudicate_page(
            request, project, item, status=400, gold_error="; ".join(invalid.messages)
        )
    return redirect("adjudicate-item", slug=project.slug, item_id=item.pk)
