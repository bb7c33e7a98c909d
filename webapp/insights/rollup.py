"""Recompute a project's insight aggregates in SQL (Postgres): a few set-based statements over
the current labels and the verdicts, written into the small tables in `models`. Dashboards then
read thousands of rows instead of millions. `rollup_ensure` recomputes when a label or verdict
newer than the rollup exists (small projects in the request, big ones on the default queue)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from evaluation.report import REWARDBENCH_CATEGORIES
from webapp.annotation.models import Annotation, Project
from webapp.autoraters.models import ModelJudgment
from webapp.insights import models as m

# Above this many labels a stale rollup is recomputed on the worker, not in the request.
SYNC_MAX_LABELS = getattr(settings, "EMBER_INSIGHTS_SYNC_MAX_LABELS", 50_000)

CELL_MODELS = (
    m.ItemSummary,
    m.HumanModelCell,
    m.HumanPairCell,
    m.PatternCell,
    m.VerdictCell,
    m.TrendCell,
    m.RaterCell,
    m.DisagreementRow,
    m.HeldoutJudgment,
    m.VersionPairCell,
    m.VersionDiffRow,
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def category_sql(alias: str = "i") -> str:
    """The item's category (see models): provenance category, else RewardBench subset's."""
    whens = " ".join(
        f"WHEN {_quote(subset)} THEN {_quote(category)}"
        for category, subsets in REWARDBENCH_CATEGORIES.items()
        for subset in subsets
    )
    return (
        f"COALESCE(NULLIF({alias}.provenance->>'category', ''), "
        f"CASE {alias}.provenance->>'subset' {whens} END, '')"
    )


def _pick(order: str) -> str:
    """The label with the highest probability in one order (bias.order_pick), null if invalid."""
    pick = (
        f"(SELECT key FROM jsonb_each_text(j.order_probabilities->'{order}') "
        "ORDER BY value::float DESC, key LIMIT 1)"
    )
    if order == "ab":  # no per-order probabilities: the verdict itself is the given order's pick
        pick = f"COALESCE({pick}, NULLIF(j.label, ''))"
    return f"CASE WHEN j.valid THEN {pick} END"


DAY = "(({a}.created_at AT TIME ZONE 'UTC')::date)"


def _statements() -> list[str]:
    t = {model.__name__: model._meta.db_table for model in CELL_MODELS}
    return [
        # ON COMMIT DROP is not enough inside an outer transaction (a savepoint never commits).
        "DROP TABLE IF EXISTS ins_cur, ins_hm",
        f"""CREATE TEMP TABLE ins_cur ON COMMIT DROP AS
        SELECT a.id, a.item_id, a.annotator_id, a.label, a.created_at, a.seconds_spent,
               i.task_id, {category_sql("i")} AS category, i.is_gold, i.gold_label
        FROM annotation_annotation a JOIN annotation_item i ON i.id = a.item_id
        WHERE i.project_id = %(p)s AND a.is_current""",
        "CREATE INDEX ON ins_cur (item_id)",
        "ANALYZE ins_cur",
        f"""INSERT INTO {t["ItemSummary"]} (project_id, item_id, task_id, category, split,
            is_gold, n_labels, pattern, reference, human_split, len_a, len_b)
        SELECT %(p)s, i.id, i.task_id, {category_sql("i")}, i.split, i.is_gold,
            COALESCE(s.m, 0), COALESCE(s.pattern, '{{}}'::jsonb),
            CASE WHEN i.gold_label <> '' THEN i.gold_label
                 WHEN s.top_n > COALESCE(s.second_n, 0) THEN s.top_label ELSE '' END,
            COALESCE(s.k > 1, false),
            length(i.context->>'response A'), length(i.context->>'response B')
        FROM annotation_item i LEFT JOIN (
            SELECT item_id, sum(n)::int AS m, count(*) AS k,
                (array_agg(label ORDER BY n DESC, label))[1] AS top_label,
                (array_agg(n ORDER BY n DESC, label))[1] AS top_n,
                (array_agg(n ORDER BY n DESC, label))[2] AS second_n,
                jsonb_object_agg(label, n) AS pattern
            FROM (SELECT item_id, label, count(*)::int AS n FROM ins_cur
                  GROUP BY item_id, label) AS per_label
            GROUP BY item_id) AS s ON s.item_id = i.id
        WHERE i.project_id = %(p)s""",
        f"""INSERT INTO {t["PatternCell"]} (project_id, task_id, category, pattern, n)
        SELECT %(p)s, task_id, category, pattern, count(*) FROM {t["ItemSummary"]}
        WHERE project_id = %(p)s AND n_labels > 0 GROUP BY task_id, category, pattern""",
        f"""INSERT INTO {t["HumanPairCell"]} (project_id, task_id, category, annotator_id, first,
            own_label, peer_label, n)
        SELECT %(p)s, x.task_id, x.category, x.annotator_id,
            (x.created_at, x.id) < (y.created_at, y.id), x.label, y.label, count(*)
        FROM ins_cur x JOIN ins_cur y ON y.item_id = x.item_id AND y.id <> x.id
        GROUP BY 2, 3, 4, 5, 6, 7""",
        f"""INSERT INTO {t["TrendCell"]} (project_id, version_id, task_id, category, day, n, agree)
        SELECT %(p)s, NULL, x.task_id, x.category, {DAY.format(a="x")}, count(*),
            count(*) FILTER (WHERE x.label = y.label)
        FROM ins_cur x JOIN ins_cur y ON y.item_id = x.item_id
            AND (y.created_at, y.id) < (x.created_at, x.id)
        GROUP BY 3, 4, 5""",
        """CREATE TEMP TABLE ins_hm ON COMMIT DROP AS
        SELECT c.task_id, c.category, c.annotator_id, j.version_id, c.label AS human_label,
            CASE WHEN j.valid THEN j.label ELSE '' END AS model_label,
            """
        + DAY.format(a="c")
        + """ AS day, count(*) AS n
        FROM ins_cur c JOIN autoraters_modeljudgment j ON j.item_id = c.item_id
        GROUP BY 1, 2, 3, 4, 5, 6, 7""",
        f"""INSERT INTO {t["HumanModelCell"]} (project_id, task_id, category, annotator_id,
            version_id, human_label, model_label, n)
        SELECT %(p)s, task_id, category, annotator_id, version_id, human_label, model_label,
            sum(n) FROM ins_hm GROUP BY 2, 3, 4, 5, 6, 7""",
        f"""INSERT INTO {t["TrendCell"]} (project_id, version_id, task_id, category, day, n, agree)
        SELECT %(p)s, version_id, task_id, category, day, sum(n),
            COALESCE(sum(n) FILTER (WHERE human_label = model_label), 0)
        FROM ins_hm GROUP BY 2, 3, 4, 5""",
        f"""INSERT INTO {t["VerdictCell"]} (project_id, version_id, task_id, category, split,
            conf_bin, reference, model_label, two_orders, ab_pick, ba_pick, longer, n,
            confidence_sum)
        SELECT %(p)s, j.version_id, s.task_id, s.category, s.split,
            CASE WHEN j.valid AND j.confidence IS NOT NULL
                 THEN LEAST(GREATEST(CEIL(j.confidence * 10)::int - 1, 0), 9) END,
            s.reference, CASE WHEN j.valid THEN j.label ELSE '' END,
            j.order_probabilities ? 'ba', {_pick("ab")}, {_pick("ba")},
            CASE WHEN s.len_a > s.len_b THEN 'A' WHEN s.len_b > s.len_a THEN 'B' ELSE '=' END,
            count(*), COALESCE(sum(j.confidence) FILTER (WHERE j.valid), 0)
        FROM autoraters_modeljudgment j JOIN {t["ItemSummary"]} s ON s.item_id = j.item_id
        WHERE s.project_id = %(p)s
        GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12""",
        f"""INSERT INTO {t["HeldoutJudgment"]} (project_id, item_id, version_id, task_id,
            category, label, valid, confidence, reference)
        SELECT %(p)s, s.item_id, j.version_id, s.task_id, s.category,
            CASE WHEN j.valid THEN j.label ELSE '' END, j.valid, j.confidence, s.reference
        FROM {t["ItemSummary"]} s JOIN autoraters_modeljudgment j ON j.item_id = s.item_id
        WHERE s.project_id = %(p)s AND s.split = 'heldout'""",
        f"""INSERT INTO {t["VersionPairCell"]} (project_id, task_id, category, version_a_id,
            version_b_id, reference, label_a, label_b, valid_a, valid_b, n)
        SELECT %(p)s, x.task_id, x.category, x.version_id, y.version_id, x.reference, x.label,
            y.label, x.valid, y.valid, count(*)
        FROM {t["HeldoutJudgment"]} x JOIN {t["HeldoutJudgment"]} y ON y.item_id = x.item_id
        WHERE x.project_id = %(p)s
        GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10""",
        f"""INSERT INTO {t["VersionDiffRow"]} (project_id, item_id, version_lo_id, version_hi_id,
            task_id, category, reference, label_lo, confidence_lo, label_hi, confidence_hi,
            top_confidence)
        SELECT %(p)s, x.item_id, x.version_id, y.version_id, x.task_id, x.category, x.reference,
            x.label, x.confidence, y.label, y.confidence, GREATEST(x.confidence, y.confidence)
        FROM {t["HeldoutJudgment"]} x JOIN {t["HeldoutJudgment"]} y ON y.item_id = x.item_id
            AND y.version_id > x.version_id
        WHERE x.project_id = %(p)s AND x.label <> y.label""",
        f"""INSERT INTO {t["RaterCell"]} (project_id, annotator_id, task_id, category, n, gold_n,
            gold_right, seconds_sum, seconds_n)
        SELECT %(p)s, annotator_id, task_id, category, count(*),
            count(*) FILTER (WHERE is_gold AND gold_label <> ''),
            count(*) FILTER (WHERE is_gold AND gold_label <> '' AND label = gold_label),
            COALESCE(sum(seconds_spent), 0), count(seconds_spent)
        FROM ins_cur GROUP BY 2, 3, 4""",
        f"""INSERT INTO {t["DisagreementRow"]} (project_id, item_id, version_id, task_id,
            category, model_label, confidence, n_labels, n_disagree, human_split, pattern,
            reference)
        SELECT %(p)s, s.item_id, j.version_id, s.task_id, s.category,
            CASE WHEN j.valid THEN j.label ELSE '' END, j.confidence, s.n_labels,
            s.n_labels - CASE WHEN j.valid THEN COALESCE((s.pattern->>j.label)::int, 0)
                              ELSE 0 END,
            s.human_split, s.pattern, s.reference
        FROM {t["ItemSummary"]} s JOIN autoraters_modeljudgment j ON j.item_id = s.item_id
        WHERE s.project_id = %(p)s AND s.n_labels > 0 AND (s.human_split OR NOT j.valid
            OR COALESCE((s.pattern->>j.label)::int, 0) < s.n_labels)""",
        f"""INSERT INTO {t["DisagreementRow"]} (project_id, item_id, version_id, task_id,
            category, model_label, confidence, n_labels, n_disagree, human_split, pattern,
            reference)
        SELECT %(p)s, s.item_id, NULL, s.task_id, s.category, '', NULL, s.n_labels,
            s.n_labels - (SELECT max(value::int) FROM jsonb_each_text(s.pattern)), true,
            s.pattern, s.reference
        FROM {t["ItemSummary"]} s WHERE s.project_id = %(p)s AND s.human_split""",
    ]


MEDIAN_SECONDS = """SELECT annotator_id,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_spent)
FROM ins_cur WHERE seconds_spent IS NOT NULL GROUP BY annotator_id"""


class InsightsUnavailable(RuntimeError):
    """The database cannot compute the rollups (not PostgreSQL)."""


def _watermark() -> tuple[int, int]:
    return (
        Annotation.objects.aggregate(n=Max("id"))["n"] or 0,
        ModelJudgment.objects.aggregate(n=Max("id"))["n"] or 0,
    )


def rollup_refresh(*, project: Project) -> m.Rollup:
    """Recompute every aggregate of the project in one transaction (readers see the old
    rollup until it commits)."""
    if connection.vendor != "postgresql":
        raise InsightsUnavailable(
            "Insights are computed in PostgreSQL, and this server runs on SQLite (DATABASE_URL "
            "names a SQLite file). Set DATABASE_URL to a PostgreSQL database, or leave it unset "
            "for the embedded PostgreSQL, to use them."
        )
    started = time.perf_counter()
    last_annotation, last_judgment = _watermark()
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        with connection.cursor() as cursor:
            for model in CELL_MODELS:
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE project_id = %s", [project.pk]
                )
            for statement in _statements():
                cursor.execute(statement, {"p": project.pk})
            cursor.execute(MEDIAN_SECONDS)
            medians = {str(a): float(s) for a, s in cursor.fetchall()}
            cursor.execute("SELECT count(*) FROM ins_cur")
            n_labels = cursor.fetchone()[0]
            cursor.execute("DROP TABLE ins_cur, ins_hm")
        rollup, _ = m.Rollup.objects.update_or_create(
            project=project,
            defaults={
                "computed_at": timezone.now(),
                "seconds": time.perf_counter() - started,
                "last_annotation_id": last_annotation,
                "last_judgment_id": last_judgment,
                "n_labels": n_labels,
                "extra": {"median_seconds": medians},
            },
        )
    return rollup


def rollup_ensure(*, project: Project) -> tuple[m.Rollup, bool]:
    """The project's rollup, recomputed first when it is missing or older than the newest label
    or verdict. Returns (rollup, refreshing): refreshing when a big project's recompute was
    queued and the page shows the previous one."""
    rollup = m.Rollup.objects.filter(project=project).first()
    if rollup is not None:
        if (rollup.last_annotation_id, rollup.last_judgment_id) >= _watermark():
            return rollup, False
        if rollup.n_labels > SYNC_MAX_LABELS:
            if cache.add(f"insights-refresh:{project.pk}", 1, timeout=600):
                from webapp.insights.tasks import rollup_refresh_task

                rollup_refresh_task.delay(project.pk)
            return rollup, True
    return rollup_refresh(project=project), False
