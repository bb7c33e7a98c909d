"""Insight pages for analysts and admins: dashboard, disagreements (and one item side by side),
version comparison and rater quality. Each exports its rows with ?export=csv or ?export=jsonl."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from webapp.annotation.access import project_for_adjudicator
from webapp.insights import charts, selectors
from webapp.insights.export import FORMATS, ci_fields, export_response
from webapp.insights.rollup import InsightsUnavailable, rollup_ensure, rollup_refresh

DIMENSIONS = (("rater", "rater"), ("category", "category"), ("version", "autorater version"))


def _start(request: HttpRequest, slug: str):
    project = project_for_adjudicator(request.user, slug)
    filters = selectors.Filters.parse(request.GET)
    fmt = request.GET.get("export", "")
    if fmt and fmt not in FORMATS:
        raise ValidationError(f"export must be one of {', '.join(FORMATS)}.")
    rollup, refreshing = rollup_ensure(project=project)
    return project, filters, fmt, rollup, refreshing


def _offset(request: HttpRequest) -> int:
    raw = request.GET.get("offset", "0")
    if not raw.isdigit():
        raise ValidationError("offset must be a number.")
    return int(raw)


def _bad_request(view):
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ValidationError as error:
            return HttpResponseBadRequest(" ".join(error.messages))
        except InsightsUnavailable as error:
            return render(request, "insights/unavailable.html", {"message": str(error)}, status=503)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _page(request, template, project, filters, rollup, refreshing, choices, **context):
    return render(
        request,
        template,
        {
            "project": project,
            "filters": filters,
            "rollup": rollup,
            "refreshing": refreshing,
            "choices": choices,
            **context,
        },
    )


@login_required
@require_GET
@_bad_request
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    project, filters, fmt, rollup, refreshing = _start(request, slug)
    choices = selectors.filter_choices(project)
    data = selectors.dashboard(project, filters, choices)
    names = {
        "rater": {u.pk: u.username for u in choices["raters"]},
        "version": {v.pk: f"v{v.number}" for v in choices["versions"]},
    }
    breakdowns = []
    for key, caption in DIMENSIONS:
        rows = [
            {"key": value, "label": names.get(key, {}).get(value, value or "(none)"), **result}
            for value, result in data["breakdown"][key].items()
        ]
        rows.sort(key=lambda r: str(r["label"]))
        breakdowns.append({"key": key, "caption": caption, "rows": rows})
    if fmt:
        export = []
        for entry in data["per_task"]:
            task = entry["task"].name
            if entry["human_model"]:
                export.append(
                    {
                        "section": "human_vs_autorater",
                        "group": task,
                        "n": entry["human_model"]["accuracy"]["n"],
                        **ci_fields("agreement", entry["human_model"]["accuracy"]),
                        **ci_fields("kappa", entry["human_model"]["kappa"]),
                    }
                )
            export.append(
                {
                    "section": "human_vs_human",
                    "group": task,
                    "n": entry["human_human"]["accuracy"]["n"],
                    **ci_fields("agreement", entry["human_human"]["accuracy"]),
                    **ci_fields("kappa", entry["human_human"]["kappa"]),
                    **ci_fields("krippendorff_alpha", entry["alpha"]),
                }
            )
        for breakdown in breakdowns:
            for row in breakdown["rows"]:
                export.append(
                    {
                        "section": f"by_{breakdown['key']}",
                        "group": row["label"],
                        "n": row["n"],
                        **ci_fields("agreement", row["agreement"]),
                        **ci_fields("kappa", row["kappa"]),
                    }
                )
        for b in data["calibration"]["bins"]:
            export.append(
                {
                    "section": "calibration",
                    "group": f"{b['low']:.1f}-{b['high']:.1f}",
                    "n": b["count"],
                    "accuracy": b["accuracy"],
                    "confidence": b["confidence"],
                }
            )
        for name, points in data["trend"].items():
            for point in points:
                export.append(
                    {
                        "section": f"trend_{name}",
                        "group": point["day"],
                        "n": point["n"],
                        **ci_fields("agreement", point),
                    }
                )
        return export_response(export, fmt, f"{project.slug}-dashboard")
    pictures = {
        "breakdowns": [
            charts.bar_chart(
                [
                    {
                        "label": r["label"],
                        "value": r["agreement"]["value"],
                        "ci": r["agreement"]["ci"],
                    }
                    for r in b["rows"]
                ],
                f"Human–autorater agreement by {b['caption']} (95% CI)",
                f"chart-by-{b['key']}",
            )
            for b in breakdowns
        ],
        "kappa_by_version": charts.bar_chart(
            [
                {"label": r["label"], "value": r["kappa"]["value"], "ci": r["kappa"]["ci"]}
                for r in breakdowns[2]["rows"]
            ],
            "Cohen's kappa (humans vs autorater) across versions",
            "chart-kappa-versions",
            y_label="kappa",
        ),
        "reliability": charts.reliability(
            data["calibration"]["bins"],
            "Reliability: is it right as often as it is sure?",
            "chart-reliability",
        ),
        "trend": charts.lines(data["trend"], "Agreement per day", "chart-trend"),
        "position": charts.bar_chart(
            [
                {
                    "label": "consistency",
                    "value": data["position"]["consistency"],
                    "ci": (data["position"].get("ci") or {}).get("consistency"),
                },
                {
                    "label": "prefers first",
                    "value": data["position"]["prefer_first"],
                    "ci": (data["position"].get("ci") or {}).get("prefer_first"),
                },
                {
                    "label": "prefers second",
                    "value": data["position"]["prefer_second"],
                    "ci": (data["position"].get("ci") or {}).get("prefer_second"),
                },
                {
                    "label": "picks longer",
                    "value": data["length"]["long_bias"],
                    "ci": data["length"]["ci"],
                },
            ],
            "Swap consistency, position and length preference",
            "chart-position",
            y_label="share",
        ),
        "confusion": [
            charts.heatmap(
                entry["human_model"]["matrix"],
                entry["human_model"]["labels"],
                entry["human_model"]["labels"],
                f"{entry['task'].name}: humans vs autorater",
                f"chart-confusion-{entry['task'].pk}",
                "human label",
                "autorater verdict",
            )
            for entry in data["per_task"]
            if entry["human_model"]
        ],
    }
    return _page(
        request,
        "insights/dashboard.html",
        project,
        filters,
        rollup,
        refreshing,
        choices,
        data=data,
        breakdowns=breakdowns,
        pictures=pictures,
    )


@login_required
@require_GET
@_bad_request
def disagreements(request: HttpRequest, slug: str) -> HttpResponse:
    project, filters, fmt, rollup, refreshing = _start(request, slug)
    choices = selectors.filter_choices(project)
    version = selectors.default_version(choices["versions"], filters.version)
    offset = 0 if fmt else _offset(request)
    limit = 10_000 if fmt else selectors.PAGE
    rows = selectors.disagreements(project, filters, version, offset, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    if fmt:
        return export_response(
            (
                {
                    "item_id": r.item_id,
                    "external_id": r.item.external_id,
                    "task": r.task.name,
                    "category": r.category,
                    "version": version.number if version and r.version_id else None,
                    "autorater_label": r.model_label,
                    "confidence": r.confidence,
                    "human_labels": r.pattern,
                    "n_disagree": r.n_disagree,
                    "humans_split": r.human_split,
                    "reference": r.reference,
                }
                for r in rows
            ),
            fmt,
            f"{project.slug}-disagreements",
        )
    return _page(
        request,
        "insights/disagreements.html",
        project,
        filters,
        rollup,
        refreshing,
        choices,
        rows=rows,
        version=None if filters.humans_only else version,
        offset=offset,
        next_offset=offset + selectors.PAGE if more else None,
        previous_offset=max(0, offset - selectors.PAGE) if offset else None,
    )


@login_required
@require_GET
@_bad_request
def item(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    project = project_for_adjudicator(request.user, slug)
    fmt = request.GET.get("export", "")
    if fmt and fmt not in FORMATS:
        raise ValidationError(f"export must be one of {', '.join(FORMATS)}.")
    detail = selectors.item_detail(project, item_id)
    if detail is None:
        raise Http404("No such item in this project.")
    if fmt:
        rows = [
            {
                "kind": "human",
                "who": a.annotator.username,
                "label": a.label,
                "revision": a.revision,
                "current": a.is_current,
                "confidence": a.confidence,
                "reason": a.reason,
                "tag": a.disagreement_tag,
            }
            for a in detail["current"] + detail["history"]
        ] + [
            {
                "kind": "autorater",
                "who": f"v{v['judgment'].version.number}",
                "label": v["judgment"].label,
                "confidence": v["judgment"].confidence,
                "order_probabilities": v["judgment"].order_probabilities,
                "consistent": v["judgment"].consistent,
            }
            for v in detail["verdicts"]
        ]
        return export_response(rows, fmt, f"{project.slug}-item-{item_id}")
    from webapp.annotation.selectors import task_of

    task = task_of(detail["item"].task)
    context = detail["item"].context or {}
    return render(
        request,
        "insights/item.html",
        {
            "project": project,
            "task": task,
            "fields": [(f, context.get(f, "")) for f in task.context_fields],
            "back": request.GET.get("back", ""),
            **detail,
        },
    )


@login_required
@require_GET
@_bad_request
def versions(request: HttpRequest, slug: str) -> HttpResponse:
    project, filters, fmt, rollup, refreshing = _start(request, slug)
    choices = selectors.filter_choices(project)
    by_pk = {v.pk: v for v in choices["versions"]}
    ordered = choices["versions"]

    def pick(name: str, default):
        raw = request.GET.get(name, "")
        if not raw:
            return default
        if not raw.isdigit() or int(raw) not in by_pk:
            raise ValidationError(f"{name} must be one of this project's autorater versions.")
        return by_pk[int(raw)]

    a = pick("a", ordered[1] if len(ordered) > 1 else None)
    b = pick("b", ordered[0] if ordered else None)
    comparison = None
    offset = 0 if fmt else _offset(request)
    limit = 10_000 if fmt else selectors.PAGE
    if a is not None and b is not None:
        comparison = selectors.version_comparison(project, a, b, filters, offset, limit)
    differ = (comparison or {}).get("differ", [])
    if fmt:
        rows = [
            {
                "item_id": i.item_id,
                "external_id": i.item.external_id,
                "task": i.task.name,
                "reference": i.reference,
                f"v{a.number}_label": i.label,
                f"v{a.number}_confidence": i.confidence,
                f"v{b.number}_label": i.label_b,
                f"v{b.number}_confidence": i.conf_b,
            }
            for i in differ[:limit]
        ]
        return export_response(rows, fmt, f"{project.slug}-versions")
    picture = None
    if comparison:
        picture = charts.bar_chart(
            [
                {"label": f"v{a.number}", **comparison["accuracy_a"]},
                {"label": f"v{b.number}", **comparison["accuracy_b"]},
                {"label": "agree with each other", **comparison["agreement"]["accuracy"]},
            ],
            "Held-out accuracy against the reference label (95% CI)",
            "chart-versions",
            y_label="accuracy",
        )
    return _page(
        request,
        "insights/versions.html",
        project,
        filters,
        rollup,
        refreshing,
        choices,
        a=a,
        b=b,
        comparison=comparison,
        picture=picture,
        differ=differ[:limit],
        offset=offset,
        next_offset=offset + limit if len(differ) > limit else None,
        previous_offset=max(0, offset - limit) if offset else None,
    )


@login_required
@require_GET
@_bad_request
def raters(request: HttpRequest, slug: str) -> HttpResponse:
    project, filters, fmt, rollup, refreshing = _start(request, slug)
    choices = selectors.filter_choices(project)
    rows = selectors.rater_quality(project, filters, choices, rollup)
    if fmt:
        return export_response(
            (
                {
                    "rater": r["rater"],
                    "labels": r["labels"],
                    **ci_fields("gold_accuracy", r["gold"]),
                    "gold_n": r["gold"]["n"],
                    **ci_fields("peer_agreement", r["peers"]),
                    **ci_fields("autorater_agreement", r["autorater"]),
                    "median_seconds": r["median_seconds"],
                    "mean_seconds": r["mean_seconds"],
                    "flags": "; ".join(r["flags"]),
                }
                for r in rows
            ),
            fmt,
            f"{project.slug}-raters",
        )
    picture = charts.bar_chart(
        [{"label": r["rater"], **r["peers"]} for r in sorted(rows, key=lambda r: r["rater"])],
        "Agreement with peers per rater (95% CI)",
        "chart-raters",
    )
    return _page(
        request,
        "insights/raters.html",
        project,
        filters,
        rollup,
        refreshing,
        choices,
        rows=rows,
        picture=picture,
    )


@login_required
@require_POST
@_bad_request
def refresh(request: HttpRequest, slug: str) -> HttpResponse:
    """Recompute now (e.g. after adjudication, which changes reference labels)."""
    project = project_for_adjudicator(request.user, slug)
    rollup_refresh(project=project)
    return redirect(reverse("insights-dashboard", args=[project.slug]))
