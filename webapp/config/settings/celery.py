"""Celery: broker, routing, reliability and the beat schedule."""

import os
from pathlib import Path

from celery.schedules import schedule

_VAR_DIR = Path(os.environ.get("EMBER_VAR_DIR", Path(__file__).resolve().parents[3] / "var"))
_BROKER_DIR = _VAR_DIR / "broker"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3 * 3600}
else:
    # Embedded default: a broker that needs no server (files under var/broker).
    for _sub in ("out", "processed", "control"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "out"),
        "data_folder_out": str(_BROKER_DIR / "out"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(_BROKER_DIR / "control"),
    }

# Results live in Postgres rows (runs, judgments); Celery results are not stored.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "ember.judge.*": {"queue": "judge"},
    "ember.train.*": {"queue": "train"},
    "ember.default.*": {"queue": "default"},
}
CELERY_TASK_SOFT_TIME_LIMIT = 3 * 3600
CELERY_TASK_TIME_LIMIT = 3 * 3600 + 300
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(_VAR_DIR / "celerybeat-schedule")

CELERY_BEAT_SCHEDULE = {
    "fold-and-retrain-check": {
        "task": "ember.default.fold_and_retrain_check",
        "schedule": schedule(float(os.environ.get("EMBER_RETRAIN_CHECK_SECONDS", "60"))),
    },
}
