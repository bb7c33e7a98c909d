"""Uploads left at the column-mapping step, or imported long ago, are deleted by beat's hourly
sweep; recent ones, and imports still queued or running, are kept."""

import os
import time

from webapp.annotation.table_import import (
    PENDING_FACTOR,
    Table,
    _job_path,
    _upload_dir,
    _write,
    table_load,
    table_store,
    uploads_sweep,
)
from webapp.annotation.tasks import uploads_sweep_task

DAY = 24 * 3600.0


def _stored(age: float, state: str | None = None) -> str:
    token = table_store(
        Table(name="rows.csv", columns=["text"], rows=[{"text": "hi"}], first_line=2)
    )
    if state is not None:
        _write(_job_path(token, "progress"), {"state": state, "done": 0, "total": 1})
    then = time.time() - age
    for path in _upload_dir().glob(f"*{token}*"):
        os.utime(path, (then, then))
    return token


def test_old_uploads_are_swept_and_recent_or_pending_ones_kept(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path
    left = _stored(2 * DAY)  # the admin never finished the mapping step
    done = _stored(2 * DAY, "done")
    fresh = _stored(60)
    queued = _stored(2 * DAY, "queued")  # a worker may be down: kept longer
    stale = _stored((PENDING_FACTOR + 1) * DAY, "running")

    assert sorted(uploads_sweep(DAY)) == sorted([left, done, stale])
    assert table_load(fresh) is not None and table_load(queued) is not None
    assert table_load(left) is None and not list(_upload_dir().glob(f"*{done}*"))
    assert uploads_sweep(DAY) == []


def test_the_beat_task_uses_the_keep_setting(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path
    settings.EMBER_UPLOAD_KEEP_SECONDS = 3600
    _stored(2 * 3600)
    _stored(60)
    assert uploads_sweep_task() == 1
    assert "uploads-sweep" in settings.CELERY_BEAT_SCHEDULE
