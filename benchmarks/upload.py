"""Benchmark: the browser upload's three stages on ROWS rows of a pairwise CSV.

    python -m benchmarks.upload [--rows 100000] [--quick]

Stages, each timed once in this process (webapp/annotation/table_import.py):
  read      table_read: parse the CSV text into rows (what the upload step does).
  validate  table_examples: map columns to the rubric and check every row (the mapping step).
  import    table_import: write interchange JSONL and import it with transfer.examples_import
            (bulk inserts in 2,000-row chunks, one transaction, audited) into Postgres.

Prints JSON: seconds and rows per second of each stage, the file's size, and the load average
(the machine is shared: read the numbers with it). Uses its own database `<name>_bench_upload`
(created, migrated, dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import dj_database_url


def _csv(rows: int) -> str:
    lines = ["question,first,second,winner,uid"]
    for n in range(rows):
        a, b = n % 10, n % 7
        lines.append(f'"What is {a} + {b}?",{a + b},{a + b + 1},{"A" if n % 3 else "B"},u{n}')
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 rows")
    args = parser.parse_args()
    if args.quick:
        args.rows = 2_000
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    base = dj_database_url.parse(url)
    name = f"{base['NAME']}_bench_upload"
    os.environ.update(
        {
            "DATABASE_URL": url.rsplit("/", 1)[0] + f"/{name}",
            "DJANGO_SETTINGS_MODULE": "webapp.config.settings.test",
            "EMBER_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
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

        call_command("migrate", verbosity=0)
        from judging.task_format import RESPONSE_A, RESPONSE_B, Task, TaskType
        from webapp.annotation.models import Item, Project
        from webapp.annotation.project_services import rubric_create
        from webapp.annotation.selectors import task_of
        from webapp.annotation.table_import import (
            Mapping,
            table_examples,
            table_import,
            table_read,
        )

        project = Project.objects.create(name="Upload bench", slug="upload-bench")
        definition = rubric_create(
            project=project,
            task=Task(
                name="pairs",
                type=TaskType.PAIRWISE,
                title="Which answer is right?",
                description="Pick the right sum.",
                context_fields=("question", RESPONSE_A, RESPONSE_B),
                output_fields=("choice",),
                labels=("A", "B", "tie"),
            ),
        )
        text = _csv(args.rows)
        stages = {}
        began = time.perf_counter()
        table = table_read("bench.csv", text)
        stages["read"] = time.perf_counter() - began
        mapping = Mapping(
            context={"question": "question", RESPONSE_A: "first", RESPONSE_B: "second"},
            id="uid",
            label="winner",
        )
        began = time.perf_counter()
        examples, errors = table_examples(table, task_of(definition), mapping)
        stages["validate"] = time.perf_counter() - began
        assert not errors, errors[:3]
        began = time.perf_counter()
        result = table_import(
            definition=definition, examples=examples, heldout_percent=20, gold=False
        )
        stages["import"] = time.perf_counter() - began
        assert result.created == args.rows == Item.objects.filter(project=project).count()
        report = {
            "benchmark": "upload",
            "rows": args.rows,
            "csv_mib": round(len(text.encode()) / 2**20, 2),
            "stages": {
                stage: {"seconds": round(seconds, 6), "rows_per_second": round(args.rows / seconds)}
                for stage, seconds in stages.items()
            },
            "total_seconds": round(sum(stages.values()), 2),
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
