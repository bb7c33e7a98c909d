"""Benchmark: interchange JSONL import into the database (bulk, streamed) vs row-by-row inserts.

    python -m benchmarks.imports [--examples N] [--quick]

Prints JSON: examples_per_second of the real import, the same for a naive row-by-row ORM insert
of the same kind of data in the same run, and their ratio. Uses DATABASE_URL when set (Postgres,
or sqlite:///...), otherwise the embedded PostgreSQL default. Its projects are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path


def _examples(n: int, seed: int):
    from judging.task_format import Example, Task, TaskType

    task = Task(
        name="bench/consistency",
        type=TaskType.CLASSIFICATION,
        title="Is the summary consistent with the document?",
        description="Answer consistent or inconsistent.",
        context_fields=("document", "summary"),
        output_fields=("answer",),
        labels=("consistent", "inconsistent"),
    )
    rng = random.Random(seed)
    words = "the a model judge river stone cloud summary fact paper data human rater".split()
    examples = [
        Example(
            task=task.name,
            id=f"bench-{seed}-{i}",
            context={
                "document": " ".join(rng.choices(words, k=150)) + f" #{seed}-{i}",
                "summary": " ".join(rng.choices(words, k=25)),
            },
            label=rng.choice(task.labels),
            provenance={"source": "benchmark"},
        )
        for i in range(n)
    ]
    return task, examples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--reference-examples", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="a run of a few seconds")
    args = parser.parse_args()
    if args.quick:
        args.examples, args.reference_examples = 2_000, 300

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from judging.task_format import write_jsonl
    from webapp.annotation.models import Project
    from webapp.annotation.services import items_create, task_definition_upsert
    from webapp.annotation.transfer import examples_import

    call_command("migrate", verbosity=0)
    task, examples = _examples(args.examples, seed=1)
    _, reference_examples = _examples(args.reference_examples, seed=2)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.jsonl"
        write_jsonl(path, [task], examples)
        bytes_per_example = path.stat().st_size / args.examples
        bulk_project = Project.objects.create(name="benchmark bulk", slug=f"bench-{os.getpid()}")
        naive_project = Project.objects.create(name="benchmark naive", slug=f"benchn-{os.getpid()}")
        try:
            started = time.perf_counter()
            result = examples_import(project=bulk_project, path=path)
            bulk_seconds = time.perf_counter() - started
            assert result.created == args.examples, result

            definition = task_definition_upsert(project=naive_project, task=task)
            started = time.perf_counter()
            with transaction.atomic():
                for example in reference_examples:  # one INSERT per row
                    items_create(project=naive_project, definition=definition, examples=[example])
            naive_seconds = time.perf_counter() - started
        finally:
            bulk_project.delete()
            naive_project.delete()

    bulk_rate = args.examples / bulk_seconds
    naive_rate = args.reference_examples / naive_seconds
    print(
        json.dumps(
            {
                "benchmark": "imports",
                "database": connection.vendor,
                "examples": args.examples,
                "seconds": round(bulk_seconds, 3),
                "examples_per_second": round(bulk_rate, 1),
                "reference": "row-by-row ORM inserts in one transaction",
                "reference_examples_per_second": round(naive_rate, 1),
                "ratio_vs_reference": round(bulk_rate / naive_rate, 2),
                "jsonl_bytes_per_example": round(bytes_per_example, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
