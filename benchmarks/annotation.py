"""Benchmark: claim-next-item and submit latency with many concurrent raters over HTTP.

    python -m benchmarks.annotation [--items 1000000] [--raters 100] [--seconds 60]
                                    [--think-min 2] [--think-max 5] [--closed-seconds 20]
                                    [--workers 2] [--threads 8] [--keep-db] [--quick]

Seeds ITEMS pairwise items into Postgres (one INSERT ... SELECT over generate_series), starts
the app under gunicorn (gthread workers, production settings) on loopback, and gives each of
RATERS raters its own logged-in session and keep-alive connection. Each rater loops like a
person at the queue screen: GET the queue (htmx swap; claims the next item with SELECT ... FOR
UPDATE SKIP LOCKED), read the pair for a think time drawn uniformly from [THINK_MIN, THINK_MAX]
seconds, POST a label (the reveal comes back). Raters arrive spread over the first think time;
that and the next WARMUP seconds (worker threads connecting, templates compiling) are not
measured.

Two phases on the same database and server:
  think-time  SECONDS with the think time above: the latency a rater sees (the goal's numbers).
  closed      CLOSED_SECONDS with no think time, every rater back to back: the saturation
              throughput (requests_per_second) and the latency at saturation.

Prints JSON: claim/submit p50/p90/p99/max in ms and requests_per_second of each phase (the
top-level claim_p50_ms ... are the think-time phase), the settings, the load average of the
machine before and after, and checks that nobody got an item twice (no item has more labels
than raters_per_item; every stored label was answered 200). Needs DATABASE_URL (Postgres);
uses its own database `<name>_bench` (`<name>_bench_quick` with --quick: created, migrated,
seeded; dropped at the end unless --keep-db, and reused when it holds the same seeded items).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from importlib import import_module
from pathlib import Path

import dj_database_url

ROOT = Path(__file__).resolve().parents[1]
ITEM_ID = re.compile(r'data-item-id="(\d+)"')
SUBMISSION_KEY = re.compile(r'name="submission_key" value="([0-9a-f]+)"')
CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")
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
RESET_SQL = [
    "DELETE FROM annotation_annotation",
    "DELETE FROM annotation_assignment",
    "DELETE FROM annotation_skip",
    "UPDATE annotation_item SET label_count = 0, is_open = true WHERE NOT is_open "
    "OR label_count > 0",
]


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else None


def _database(url: str, quick: bool) -> tuple[str, str]:
    base = dj_database_url.parse(url)
    name = f"{base['NAME']}_bench{'_quick' if quick else ''}"
    return name, url.rsplit("/", 1)[0] + f"/{name}"


def _seeded(items: int) -> bool:
    """The bench database already holds this many seeded items (then reset their labels)."""
    from django.db import connection

    from webapp.annotation.models import Item, Project

    project = Project.objects.filter(slug="load").first()
    if project is None or Item.objects.filter(project=project).count() != items:
        return False
    with connection.cursor() as cursor:
        for statement in RESET_SQL:
            cursor.execute(statement)
        cursor.execute("VACUUM ANALYZE annotation_item")
    return True


def _seed(items: int) -> None:
    from django.db import connection

    from judging.demo_tasks import ARITHMETIC
    from webapp.annotation.models import Project
    from webapp.annotation.services import task_definition_upsert

    project = Project.objects.create(name="Load", slug="load")
    definition = task_definition_upsert(project=project, task=ARITHMETIC)
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL, {"project": project.pk, "task": definition.pk, "items": items})
        cursor.execute("VACUUM ANALYZE")


def _sessions(raters: int) -> list[str]:
    """Raters of the load project, each logged in with its own session; their session keys."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from webapp.annotation.models import Project

    store = import_module(settings.SESSION_ENGINE).SessionStore
    project = Project.objects.get(slug="load")
    users = get_user_model()
    keys = []
    for index in range(raters):
        user, _ = users.objects.get_or_create(username=f"load{index}")
        project.raters.add(user)
        session = store()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


class Rater(threading.Thread):
    """One person at the queue screen, on one keep-alive connection (reopened if the server
    closes it; a retried submit is safe: the submission key makes it idempotent)."""

    def __init__(self, port: int, session_key: str, think: tuple[float, float], seed: int):
        super().__init__(daemon=True)
        self.port, self.think = port, think
        self.random = random.Random(seed)
        self.cookies = {"sessionid": session_key}
        self.connection: http.client.HTTPConnection | None = None
        self.phase: dict | None = None  # where samples go; None while warming up
        self.stop_at = 0.0
        self.claims: dict[str, list[float]] = {}
        self.submits: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.answered = 0  # every submit answered 200, measured or not

    def _request(self, method: str, path: str, body: str | None = None) -> str:
        headers = {
            "HX-Request": "true",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if body is not None:
            headers.update(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-CSRFToken": self.cookies.get("csrftoken", ""),
                    "Referer": f"http://127.0.0.1:{self.port}/p/load/queue/",
                }
            )
        for attempt in (0, 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode()
                break
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None  # the server closed an idle keep-alive: reconnect
                if attempt:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            if found := CSRF_COOKIE.match(header):
                self.cookies["csrftoken"] = found.group(1)
        if response.status != 200:
            raise OSError(f"{method} {path}: HTTP {response.status}")
        return text

    def _pause(self) -> None:
        if self.think[1] > 0:
            time.sleep(self.random.uniform(*self.think))

    def _record(self, kind: str, phase: dict | None, started: float) -> None:
        """A request's latency, if it started and ended within one measured phase."""
        if phase is not None and self.phase is phase:
            ms = (time.perf_counter() - started) * 1000
            getattr(self, kind).setdefault(phase["name"], []).append(ms)

    def run(self) -> None:
        self._pause()  # raters arrive spread over the first think time
        while time.monotonic() < self.stop_at:
            try:
                phase, started = self.phase, time.perf_counter()
                page = self._request("GET", "/p/load/queue/")
                self._record("claims", phase, started)
                item, key = ITEM_ID.search(page), SUBMISSION_KEY.search(page)
                if not item or not key:
                    return  # the queue is empty
                self._pause()  # reading the pair
                phase, started = self.phase, time.perf_counter()
                self._request(
                    "POST",
                    f"/p/load/items/{item.group(1)}/label/",
                    f"label={self.random.choice('AB')}&submission_key={key.group(1)}",
                )
                self._record("submits", phase, started)
                self.answered += 1
            except (OSError, http.client.HTTPException):
                if self.phase is not None:
                    name = self.phase["name"]
                    self.errors[name] = self.errors.get(name, 0) + 1
                time.sleep(0.1)


def _phase_report(raters: list[Rater], name: str, seconds: float) -> dict:
    claims = [ms for rater in raters for ms in rater.claims.get(name, [])]
    submits = [ms for rater in raters for ms in rater.submits.get(name, [])]
    return {
        "seconds": round(seconds, 1),
        "claims": len(claims),
        "submits": len(submits),
        "errors": sum(rater.errors.get(name, 0) for rater in raters),
        "claim_p50_ms": round(statistics.median(claims), 1) if claims else None,
        "claim_p90_ms": percentile(claims, 0.90),
        "claim_p99_ms": percentile(claims, 0.99),
        "claim_max_ms": percentile(claims, 1.0),
        "submit_p50_ms": round(statistics.median(submits), 1) if submits else None,
        "submit_p90_ms": percentile(submits, 0.90),
        "submit_p99_ms": percentile(submits, 0.99),
        "submit_max_ms": percentile(submits, 1.0),
        "requests_per_second": round((len(claims) + len(submits)) / seconds, 1),
    }


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc; None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class CpuMeter(threading.Thread):
    """CPU spent by the gunicorn processes and by the Postgres backends serving the bench
    database, sampled twice a second so that backends which come and go (connections are
    recycled) are counted too: a process first seen mid-phase counts from zero."""

    def __init__(self, server: subprocess.Popen, database: str):
        super().__init__(daemon=True)
        self.server, self.database = server, database
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.running = True
        self.started = False

    def _pids(self, conn) -> list[tuple[str, int]]:
        children = []
        for task in Path(f"/proc/{self.server.pid}/task").glob("*/children"):
            children += [int(pid) for pid in task.read_text().split()]
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.database],
        ).fetchall()
        return [("server", self.server.pid), *(("server", pid) for pid in children)] + [
            ("database", row[0]) for row in rows
        ]

    def _sample(self, conn) -> None:
        for key in self._pids(conn):
            spent = _cpu_seconds(key[1])
            if spent is None:
                continue
            self.first.setdefault(key, spent if not self.started else 0.0)
            self.last[key] = spent
        self.started = True

    def run(self) -> None:
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
            while self.running:
                self._sample(conn)
                time.sleep(0.5)
            self._sample(conn)

    def spent(self) -> dict[str, float]:
        totals = {"server": 0.0, "database": 0.0}
        for key, last in self.last.items():
            totals[key[0]] += last - self.first[key]
        return totals


def _run_phase(raters, name: str, think, warmup: float, seconds: float, server, database):
    """Run the raters for warmup + seconds with this think time; report the measured part,
    with the CPU the app server and the database spent per request in it."""
    for rater in raters:
        rater.think = think
    time.sleep(warmup)
    meter = CpuMeter(server, database)
    meter.start()
    for _ in range(200):  # the first sample, taken as the phase starts
        if meter.started or not meter.is_alive():
            break
        time.sleep(0.05)
    phase = {"name": name}
    for rater in raters:
        rater.phase = phase
    time.sleep(seconds)
    for rater in raters:
        rater.phase = None
    meter.running = False
    meter.join()
    report = _phase_report(raters, name, seconds)
    requests = max(1, report["claims"] + report["submits"])
    for kind, spent in meter.spent().items():
        report[f"{kind}_cpu_ms_per_request"] = round(spent * 1000 / requests, 2)
    return report


def _checks(stored_submits: int) -> dict:
    from django.db import connection

    from webapp.annotation.models import Annotation, Project

    k = Project.objects.get(slug="load").raters_per_item
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT item_id FROM annotation_annotation GROUP BY item_id "
            "HAVING COUNT(*) > %s) AS over",
            [k],
        )
        over = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(*) FROM annotation_item WHERE label_count <> "
            "(SELECT COUNT(*) FROM annotation_annotation a WHERE a.item_id = annotation_item.id "
            "AND a.is_current) AND (label_count > 0 OR NOT is_open)"
        )
        miscounted = cursor.fetchone()[0]
    return {
        "labels_stored": Annotation.objects.count(),
        "submits_answered": stored_submits,
        "items_with_more_than_k_labels": over,
        "items_with_a_wrong_label_count": miscounted,
    }


def _server(args, env: dict) -> subprocess.Popen:
    command = [
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
        str(args.threads),
        "--keep-alive",
        "10",  # raters think up to THINK_MAX seconds between requests on one connection
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{args.port}/login/", timeout=10).read()
            return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--raters", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60, help="measured think-time phase")
    parser.add_argument("--think-min", type=float, default=2.0, help="seconds reading a pair")
    parser.add_argument("--think-max", type=float, default=5.0)
    parser.add_argument(
        "--closed-seconds", type=float, default=20, help="closed-loop phase (0: skip it)"
    )
    parser.add_argument("--warmup", type=float, default=8, help="unmeasured seconds per phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--keep-db", action="store_true", help="keep the seeded database")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 10,000 items, 20 raters thinking 0.5-1.5 s, 6 s + 3 s closed",
    )
    parser.add_argument("--port", type=int, default=8877)
    args = parser.parse_args()
    if args.quick:
        args.items, args.raters, args.seconds, args.closed_seconds = 10_000, 20, 6, 3
        args.warmup, args.think_min, args.think_max = 1.5, 0.5, 1.5
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    name, bench_url = _database(url, args.quick)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.production",
        "DJANGO_SECRET_KEY": "benchmark-only-secret-key-not-for-production",
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
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    server = None
    load_before = os.getloadavg()
    try:
        django.setup()
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        reused = bool(exists) and _seeded(args.items)
        if exists and not reused:  # seeded differently: start afresh
            from django.db import connection

            connection.close()
            with psycopg.connect(**connect) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            call_command("migrate", verbosity=0)
        if not reused:
            _seed(args.items)
        sessions = _sessions(args.raters)
        seed_seconds = time.perf_counter() - started
        from django.db import connections

        connections.close_all()
        server = _server(args, env)
        raters = [
            Rater(args.port, key, (args.think_min, args.think_max), seed)
            for seed, key in enumerate(sessions)
        ]
        for rater in raters:
            rater.stop_at = float("inf")
            rater.start()
        # Unmeasured: the raters' staggered arrival, then the warm-up.
        warmup = args.think_max + args.warmup
        think = _run_phase(
            raters, "think", (args.think_min, args.think_max), warmup, args.seconds, server, name
        )
        closed = None
        if args.closed_seconds:
            closed = _run_phase(
                raters, "closed", (0.0, 0.0), args.warmup, args.closed_seconds, server, name
            )
        for rater in raters:
            rater.stop_at = 0.0
        for rater in raters:
            rater.join(timeout=60)
        answered = sum(rater.answered for rater in raters)
        report = {
            "benchmark": "annotation",
            "items": args.items,
            "raters": args.raters,
            "think_seconds": [args.think_min, args.think_max],
            "server": (
                f"gunicorn {args.workers} gthread workers x {args.threads} threads, "
                "production settings, loopback"
            ),
            "database": "postgres",
            "seeded": "reused" if reused else "new",
            "seed_seconds": round(seed_seconds, 1),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            **{f"{k}": v for k, v in think.items()},
            "closed_loop": closed,
            "checks": _checks(answered),
            "goal": "p99 under 50 ms for both at 100 concurrent raters",
        }
        print(json.dumps(report, indent=2))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            with psycopg.connect(**connect) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
