"""Benchmark: insight dashboards at a million labels.

    python -m benchmarks.insights [--labels 1000000] [--raters-per-item 4] [--renders 20]
                                  [--quick]

Seeds one project in Postgres with set-based INSERT ... SELECT over generate_series: pairwise
items in six categories, LABELS current human labels (RATERS_PER_ITEM per item from a pool
of 40 raters, two of them noisy and one fast), two autorater versions that judged every item
in both orders, 2% gold items and 10% held-out items, spread over 60 days. Then it computes
the project's rollup once (reported as rollup_seconds) and renders every insight view with
the Django test Client RENDERS times (after one warm-up), printing JSON with p50/p99 render
time in ms per view. Needs DATABASE_URL (Postgres); uses its own database `<name>_bench`
(created, migrated, dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import dj_database_url

N_RATERS = 40
CATEGORIES = ("math", "coding", "writing", "reasoning", "roleplay", "extraction")
# A label from a deterministic hash: truth is A 50%, B 40%, tie 10%.
TRUTH = (
    "(CASE WHEN abs(hashint8({x})) % 10 < 5 THEN 'A' WHEN abs(hashint8({x})) % 10 < 9 "
    "THEN 'B' ELSE 'tie' END)"
)
OTHER = "(CASE {t} WHEN 'A' THEN 'B' WHEN 'B' THEN 'A' ELSE 'A' END)"

ITEMS_SQL = """
INSERT INTO annotation_item (created_at, updated_at, project_id, task_id, external_id, context,
    reference, gold_label, split, is_gold, flame_prompt, format_version, content_hash, provenance)
SELECT now(), now(), %(project)s, %(task)s, 'bench-' || n,
    jsonb_build_object('question', 'What is ' || (n % 10) || ' + ' || (n % 7) || '?',
        'response A', repeat('a', 10 + (n * 7) % 40),
        'response B', repeat('b', 10 + (n * 13) % 40)),
    '', CASE WHEN n % 50 = 0 THEN {truth} ELSE '' END,
    CASE WHEN n % 10 = 0 THEN 'heldout' ELSE 'train' END, n % 50 = 0,
    'INSTRUCTIONS: ...', 'flame-v1', md5('bench-' || n),
    jsonb_build_object('category', (%(categories)s::text[])[1 + n % 6])
FROM generate_series(1, %(items)s) AS n
""".format(truth=TRUTH.format(x="n")).replace(" % ", " %% ")

# Rater r (0..39) agrees with the truth 85% of the time; raters 0 and 1 only 45%.
LABELS_SQL = """
INSERT INTO annotation_annotation (created_at, updated_at, item_id, annotator_id, label,
    revision, is_current, confidence, reason, disagreement_tag, submission_key, seconds_spent)
SELECT ts, ts, i.id, (%(raters)s::bigint[])[1 + r], CASE
        WHEN abs(hashint8(i.id * 131 + k)) % 100 < (CASE WHEN r < 2 THEN 45 ELSE 85 END)
        THEN t ELSE {other} END,
    1, true, 1 + (i.id + k) % 3, '', CASE WHEN (i.id + k) % 97 = 0 THEN 'ambiguous' ELSE '' END,
    md5(i.id || '-' || k), CASE WHEN r = 2 THEN 1.0 ELSE 5 + abs(hashint8(i.id + k)) % 40 END
FROM annotation_item i
CROSS JOIN generate_series(0, %(per_item)s - 1) AS k
CROSS JOIN LATERAL (SELECT (i.id * 7 + k * 11) % 40 AS r, {truth} AS t,
    now() - ((i.id % 60) || ' days')::interval + (k || ' minutes')::interval AS ts) AS x
WHERE i.project_id = %(project)s
""".format(truth=TRUTH.format(x="i.id"), other=OTHER.format(t="t")).replace(" % ", " %% ")

# Version v is right with probability 78% (v1) or 88% (v2); it is more confident when right.
# Swapped order: the same pick 90% of the time, else the other response.
JUDGMENTS_SQL = """
INSERT INTO autoraters_modeljudgment (created_at, updated_at, item_id, version_id, label,
    confidence, probabilities, order_probabilities, consistent, valid, format_version)
SELECT now(), now(), id, %(version)s, pick, conf,
    jsonb_build_object(pick, conf, alt, 1 - conf),
    jsonb_build_object('ab', jsonb_build_object(pick, conf, alt, 1 - conf),
                       'ba', jsonb_build_object(ba, conf, CASE ba WHEN pick THEN alt ELSE pick END,
                                                1 - conf)),
    ba = pick, true, 'flame-v1'
FROM (
    SELECT id, pick, {other_pick} AS alt, conf,
        CASE WHEN abs(hashint8(id * 17 + %(version)s)) % 10 = 0 THEN {other_pick} ELSE pick END
            AS ba
    FROM (
        SELECT id, CASE WHEN right_ THEN t ELSE {other} END AS pick,
            CASE WHEN right_ THEN 0.55 + (abs(hashint8(id + 3)) % 45) / 100.0
                 ELSE 0.5 + (abs(hashint8(id + 5)) % 30) / 100.0 END AS conf
        FROM (
            SELECT id, {truth} AS t,
                abs(hashint8(id * 31 + %(version)s)) % 100 < %(skill)s AS right_
            FROM annotation_item WHERE project_id = %(project)s) AS a) AS b) AS c
""".format(
    truth=TRUTH.format(x="id"),
    other=OTHER.format(t="t"),
    other_pick=OTHER.format(t="pick"),
).replace(" % ", " %% ")


def _with_defaults(sql: str, model, params: dict) -> tuple[str, dict]:
    """Add the model's other columns (fields added later, with defaults) to an INSERT ...
    SELECT, so the seed keeps working as the schema grows."""
    from django.db import connection

    head, rest = sql.split(")", 1)
    given = {c.strip() for c in head.split("(", 1)[1].split(",")}
    extra_cols, extra_vals = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in given or not field.has_default():
            continue
        extra_cols.append(field.column)
        extra_vals.append(f"%(d_{field.column})s")
        params = {
            **params,
            f"d_{field.column}": field.get_db_prep_save(field.get_default(), connection),
        }
    if not extra_cols:
        return sql, params
    select, source = rest.split("\nFROM ", 1)
    return (
        f"{head}, {', '.join(extra_cols)}){select}, {', '.join(extra_vals)}\nFROM {source}",
        params,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def seed(labels: int, per_item: int) -> dict:
    """The project, its raters, items, labels and two judged versions; returns handles."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from judging.demo_tasks import ARITHMETIC
    from webapp.annotation.models import Annotation, Item, Project
    from webapp.annotation.services import task_definition_upsert
    from webapp.autoraters.models import AutoraterVersion, ModelJudgment

    users = get_user_model()
    project = Project.objects.create(name="Insights", slug="insights", raters_per_item=per_item)
    definition = task_definition_upsert(project=project, task=ARITHMETIC)
    raters = users.objects.bulk_create(
        [users(username=f"rater{r:02d}", password="!") for r in range(N_RATERS)]
    )
    analyst = users.objects.create_user("analyst", password="analyst-pass")
    project.raters.add(analyst, through_defaults={"role": "analyst"})
    versions = [
        AutoraterVersion.objects.create(
            project=project, number=n, checkpoint_dir="-", snapshot_hash="-", status=status
        )
        for n, status in ((1, "retired"), (2, "promoted"))
    ]
    items = labels // per_item
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        # Bulk load into the throwaway database: skip the per-row foreign-key triggers (the
        # seed's ids are right by construction); the unique indexes still check every row.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            *_with_defaults(
                ITEMS_SQL,
                Item,
                {
                    "project": project.pk,
                    "task": definition.pk,
                    "items": items,
                    "categories": list(CATEGORIES),
                },
            )
        )
        cursor.execute(
            *_with_defaults(
                LABELS_SQL,
                Annotation,
                {"project": project.pk, "raters": [u.pk for u in raters], "per_item": per_item},
            )
        )
        for version, skill in zip(versions, (78, 88), strict=True):
            cursor.execute(
                *_with_defaults(
                    JUDGMENTS_SQL,
                    ModelJudgment,
                    {"project": project.pk, "version": version.pk, "skill": skill},
                )
            )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE")
    return {
        "project": project,
        "analyst": analyst,
        "raters": raters,
        "versions": versions,
        "items": items,
    }


def views(world: dict) -> dict[str, str]:
    from django.db.models import Min
    from django.urls import reverse

    from webapp.insights.models import DisagreementRow

    slug = world["project"].slug
    v1, v2 = world["versions"]
    first = DisagreementRow.objects.filter(version=v2).aggregate(i=Min("item_id"))["i"]
    rater = world["raters"][5].pk
    return {
        "dashboard": reverse("insights-dashboard", args=[slug]),
        "dashboard_rater": reverse("insights-dashboard", args=[slug]) + f"?rater={rater}",
        "dashboard_category": reverse("insights-dashboard", args=[slug]) + "?category=math",
        "disagreements": reverse("insights-disagreements", args=[slug]),
        "disagreements_filtered": reverse("insights-disagreements", args=[slug])
        + f"?rater={rater}&category=coding&version={v1.pk}",
        "item": reverse("insights-item", args=[slug, first]),
        "versions": reverse("insights-versions", args=[slug]) + f"?a={v1.pk}&b={v2.pk}",
        "raters": reverse("insights-raters", args=[slug]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--raters-per-item", type=int, default=4)
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="20,000 labels, 5 renders")
    args = parser.parse_args()
    if args.quick:
        args.labels, args.renders = 20_000, 5
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    base = dj_database_url.parse(url)
    name = f"{base['NAME']}_bench"
    os.environ.update(
        {
            "DATABASE_URL": url.rsplit("/", 1)[0] + f"/{name}",
            "DJANGO_SETTINGS_MODULE": "webapp.config.settings.test",
            "EMBER_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)  # no broker needed: the rollup is computed here
    import django
    import psycopg

    connect = dict(
        host=base["HOST"], port=base["PORT"] or 5432, user=base["USER"], dbname="postgres"
    )
    with psycopg.connect(**connect, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        world = seed(args.labels, args.raters_per_item)
        seed_seconds = time.perf_counter() - started
        from webapp.insights.rollup import rollup_refresh

        rollup = rollup_refresh(project=world["project"])
        client = Client()
        client.force_login(world["analyst"])
        results = {}
        for view, path in views(world).items():
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{view}: HTTP {response.status_code} for {path}")
            timings, cpu = [], []
            for _ in range(args.renders):
                began, began_cpu = time.perf_counter(), time.process_time()
                response = client.get(path)
                timings.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
                assert response.status_code == 200
            results[view] = {
                "p50_ms": round(statistics.median(timings), 1),
                "p99_ms": round(percentile(timings, 0.99), 1),
                # this process's CPU only (no Postgres): wall far above it means a busy machine
                "python_cpu_p50_ms": round(statistics.median(cpu), 1),
            }
        report = {
            "benchmark": "insights",
            "labels": rollup.n_labels,
            "items": world["items"],
            "raters": N_RATERS,
            "raters_per_item": args.raters_per_item,
            "versions": len(world["versions"]),
            "renders": args.renders,
            "seed_seconds": round(seed_seconds, 1),
            "rollup_seconds": round(rollup.seconds, 1),
            "views": results,
            "slowest_p50_ms": max(r["p50_ms"] for r in results.values()),
            "goal": "every dashboard under 300 ms at one million labels",
            "load_average_1min": round(os.getloadavg()[0], 1),
        }
        print(json.dumps(report, indent=2))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(**connect, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
