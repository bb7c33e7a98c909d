"""Shared fixtures: a real Celery worker process (Redis broker, the test Postgres database)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls in these tests are
# synchronous and safe there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[1]
CELERY = Path(sys.executable).with_name("celery")


def _database_url(settings_db: dict) -> str:
    user = settings_db.get("USER") or "postgres"
    password = f":{settings_db['PASSWORD']}" if settings_db.get("PASSWORD") else ""
    host = settings_db.get("HOST") or "127.0.0.1"
    port = settings_db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_db['NAME']}"


def _wait_for_worker(app, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise RuntimeError("the Celery worker did not answer a ping within 60 s")


@pytest.fixture(scope="session")
def worker_env(django_db_setup, tmp_path_factory) -> dict[str, str]:
    """Environment for worker/beat processes: the test database, broker and artifact dir."""
    from django.conf import settings

    artifacts = Path(settings.ARTIFACT_ROOT)
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.test",
        "DATABASE_URL": _database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "EMBER_ARTIFACT_ROOT": str(artifacts),
        "EMBER_VAR_DIR": str(tmp_path_factory.mktemp("var")),
        # Multi-host runs' coordinator: every worker of the tests is on this machine, so not
        # whatever address the machine's name resolves to.
        "EMBER_TRAIN_COORDINATOR_HOST": "127.0.0.1",
    }


@pytest.fixture(scope="session")
def celery_worker(worker_env, tmp_path_factory):
    """One real worker process consuming every queue (default, judge, train)."""
    from webapp.config.celery import app

    app.control.purge()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "webapp.config",
                "worker",
                "-Q",
                "default,judge,train",
                "-P",
                "solo",
                "-l",
                "INFO",
                "-n",
                f"test-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_worker(app)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        sys.stderr.write(f"\n--- celery worker log ({log_path}) tail ---\n")
        sys.stderr.write(log_path.read_text()[-3000:])


def wait_for_idle_worker(timeout: float = 180.0) -> None:
    """Wait until the broker queues are empty and the worker runs nothing (before a test's
    tables are flushed, so the worker is not writing into them)."""
    import redis
    from django.conf import settings

    from webapp.config.celery import app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def idle() -> bool:
        if any(broker.llen(queue) for queue in ("default", "judge", "train")):
            return False
        active = app.control.inspect(timeout=1.0).active() or {}
        return not any(active.values())

    wait_until(idle, timeout=timeout, interval=0.5, what="the Celery worker to be idle")


def wait_until(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
