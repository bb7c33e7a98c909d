"""Benchmark: claim-next-item and submit latency with many concurrent raters over HTTP.

    python -m benchmarks.annotation [--items 1000000] [--raters 100] [--seconds 60]
                                    [--think-seconds 2] [--quick]

Seeds ITEMS pairwise items into Postgres (one INSERT ... SELECT over generate_series), starts
the app under gunicorn on loopback, logs RATERS raters in, and has each loop GET the queue
(which claims the next item with select_for_update(skip_locked)) and POST a label, for
SECONDS. Each rater pauses THINK seconds on average between items (a fast person; 0 for a
closed loop that measures saturation). Prints JSON with p50/p99 latency of both requests and
the requests per second. Needs DATABASE_URL (Postgres); uses its own database `<name>_bench`
(created, migrated, dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import dj_database_url

ROOT = Path(__file__).resolve().parents[1]
ITEM_ID = re.compile(r'data-item-id="(\d+)"')
SUBMISSION_KEY = re.compile(r'name="submission_key" value="([0-9a-f]+)"')
SEED_SQL = """
INSERT INTO annotation_item (created_at, updated_at, project_id, task_id, external_id, context,
    reference, gold_label, split, is_gold, flame_prompt, format_version, content_hash, provenance)
SELECT now(), now(), %(project)s, %(task)s, 'bench-' || n,
    jsonb_build_object('question', 'What is ' || (n %% 10) || ' + ' || (n %% 7) || '?',
                       'response A', ((n %% 10) + (n %% 7))::text,
                       'response B', ((n %% 10) + (n %% 7) + 1)::text),
    '', 'A', 'train', true, 'INSTRUCTIONS: ...', 'flame-v1', md5('bench-' || n), '{}'::jsonb
FROM generate_series(1, %(items)s) AS n
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _database(url: str) -> tuple[str, str]:
    base = dj_database_url.parse(url)
    name = f"{base['NAME']}_bench"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    return name, url.rsplit("/", 1)[0] + f"/{name}", admin


def _seed(items: int, raters: int) -> list[str]:
    """Project, task, items and logged-in raters; returns the raters' session keys."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    from judging.demo_tasks import ARITHMETIC
    from webapp.annotation.models import Project
    from webapp.annotation.services import task_definition_upsert

    project = Project.objects.create(name="Load", slug="load")
    definition = task_definition_upsert(project=project, task=ARITHMETIC)
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL, {"project": project.pk, "task": definition.pk, "items": items})
        cursor.execute("ANALYZE")
    sessions = []
    users = get_user_model()
    for index in range(raters):
        user = users(username=f"load{index}")
        user.set_unusable_password()
        user.save()
        project.raters.add(user)
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        sessions.append(session.session_key)
    return sessions


class Rater(threading.Thread):
    def __init__(self, base: str, session_key: str, deadline: float, think: float, seed: int):
        super().__init__(daemon=True)
        self.base, self.deadline, self.think = base, deadline, think
        self.random = random.Random(seed)
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.session_key = session_key
        self.claims: list[float] = []
        self.submits: list[float] = []
        self.errors = 0

    def _request(self, path: str, data: bytes | None = None, headers: dict | None = None) -> str:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        request.add_header("Cookie", self._cookie())
        with self.opener.open(request, timeout=30) as response:
            return response.read().decode()

    def _cookie(self) -> str:
        cookies = {cookie.name: cookie.value for cookie in self.jar}
        cookies["sessionid"] = self.session_key
        return "; ".join(f"{k}={v}" for k, v in cookies.items())

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                started = time.perf_counter()
                page = self._request("/p/load/queue/", headers={"HX-Request": "true"})
                self.claims.append((time.perf_counter() - started) * 1000)
                item, key = ITEM_ID.search(page), SUBMISSION_KEY.search(page)
                if not item or not key:
                    return
                csrf = next((c.value for c in self.jar if c.name == "csrftoken"), "")
                body = f"label=A&submission_key={key.group(1)}".encode()
                started = time.perf_counter()
                self._request(
                    f"/p/load/items/{item.group(1)}/label/",
                    data=body,
                    headers={
                        "HX-Request": "true",
                        "X-CSRFToken": csrf,
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Referer": self.base + "/p/load/queue/",
                    },
                )
                self.submits.append((time.perf_counter() - started) * 1000)
                if self.think:  # a person reads the next item before answering
                    time.sleep(self.think * self.random.uniform(0.5, 1.5))
            except OSError:
                self.errors += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--raters", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--think-seconds",
        type=float,
        default=2.0,
        help="mean pause of a rater between items (0: closed loop, every rater back to back)",
    )
    parser.add_argument("--quick", action="store_true", help="10,000 items, 20 raters, 10 s")
    parser.add_argument("--port", type=int, default=8877)
    args = parser.parse_args()
    if args.quick:
        args.items, args.raters, args.seconds = 10_000, 20, 10
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    name, bench_url, _ = _database(url)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.production",
        "DJANGO_SECRET_KEY": "benchmark-only-secret",
        "DJANGO_SECURE_COOKIES": "0",
        "EMBER_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django
    import psycopg

    admin = dj_database_url.parse(url)
    connect = dict(
        host=admin["HOST"],
        port=admin["PORT"] or 5432,
        user=admin["USER"],
        dbname="postgres",
        autocommit=True,
    )
    with psycopg.connect(**connect) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    server = None
    try:
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        sessions = _seed(args.items, args.raters)
        seed_seconds = time.perf_counter() - started
        from django.db import connections

        connections.close_all()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "webapp.config.wsgi",
                "-b",
                f"127.0.0.1:{args.port}",
                "-w",
                str(args.workers),
                "-k",
                "gthread",
                "--threads",
                "8",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login/", timeout=10).read()
                break
            except OSError:
                time.sleep(0.2)
        deadline = time.monotonic() + args.seconds
        raters = [
            Rater(base, key, deadline, args.think_seconds, seed)
            for seed, key in enumerate(sessions)
        ]
        began = time.perf_counter()
        for rater in raters:
            rater.start()
        for rater in raters:
            rater.join()
        elapsed = time.perf_counter() - began
        claims = [ms for rater in raters for ms in rater.claims]
        submits = [ms for rater in raters for ms in rater.submits]
        from webapp.annotation.models import Annotation

        stored = Annotation.objects.count()
        report = {
            "benchmark": "annotation",
            "items": args.items,
            "raters": args.raters,
            "think_seconds": args.think_seconds,
            "seconds": round(elapsed, 1),
            "seed_seconds": round(seed_seconds, 1),
            "server": f"gunicorn gthread, {args.workers} workers x 8 threads, loopback",
            "claims": len(claims),
            "submits": len(submits),
            "labels_stored": stored,
            "errors": sum(rater.errors for rater in raters),
            "claim_p50_ms": round(statistics.median(claims), 1) if claims else None,
            "claim_p99_ms": round(percentile(claims, 0.99), 1),
            "submit_p50_ms": round(statistics.median(submits), 1) if submits else None,
            "submit_p99_ms": round(percentile(submits, 0.99), 1),
            "requests_per_second": round((len(claims) + len(submits)) / elapsed, 1),
            "goal": "p99 under 50 ms for both at 100 concurrent raters",
        }
        print(json.dumps(report, indent=2))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(**connect) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
