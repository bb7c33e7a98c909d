"""SQLite by choice (DATABASE_URL=sqlite:///...; the embedded default is PostgreSQL, see
test_embedded_postgres.py): every migration applies, and the PostgreSQL-only insights pages
answer with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHECK_INSIGHTS = """
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
from webapp.annotation.models import Project
user = User.objects.create_superuser("boss", "b@example.com", "pw")
project = Project.objects.create(name="P", slug="p")
client = Client()
client.force_login(user)
response = client.get("/p/p/insights/")
print(response.status_code)
print(response.content.decode())
"""


def test_sqlite_migrates_and_insights_say_they_need_postgres(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ember.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.local",
        "EMBER_VAR_DIR": str(tmp_path),
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    assert (tmp_path / "ember.sqlite3").exists()
    out = subprocess.run(
        [sys.executable, "-c", CHECK_INSIGHTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    status, body = out.split("\n", 1)
    assert status == "503"
    assert "Insights are computed in PostgreSQL" in body and "DATABASE_URL" in body
