"""The items browser (a project's analysts and admins): search and filter the items, open one
to see its content, every rater's labels with their revisions, and the autorater's verdicts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.annotation.access import project_for_adjudicator
from webapp.annotation.browse import (
    STATES,
    ItemFilter,
    item_labels_with_revisions,
    item_verdicts,
    items_browse,
    label_counts,
)
from webapp.annotation.selectors import item_of_project, task_of
from webapp.annotation.views import _content_context

PER_PAGE = 25


@login_required
@require_GET
def items_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for_adjudicator(request.user, slug)
    context = {"project": project, "tasks": project.tasks.order_by("name"), "states": STATES}
    try:
        where = ItemFilter.from_query(request.GET, project)
    except ValidationError as invalid:
        context.update(error="; ".join(invalid.messages), where=ItemFilter())
        return render(request, "annotation/browse.html", context, status=400)
    page = Paginator(items_browse(project, where), PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    labels = label_counts(page.object_list)
    for item in page.object_list:
        item.current_labels = labels.get(item.pk, [])
    context.update(where=where, page=page, query=query.urlencode())
    return render(request, "annotation/browse.html", context)


@login_required
@require_GET
def item_page(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = project_for_adjudicator(request.user, slug)
    item = item_of_project(item_id=item_id, project=project)
    if item is None:
        raise Http404("No such item in this project.")
    context = {
        "project": project,
        "item": item,
        "annotations": item_labels_with_revisions(item),
        "verdicts": item_verdicts(item),
        **_content_context(task_of(item.task), item),
    }
    return render(request, "annotation/browse_item.html", context)
