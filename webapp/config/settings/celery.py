"""Celery: broker, queues and routing, reliability, time limits and the beat schedule.

Queues: `default` (beat checks), `judge` (scoring items with the live autorater) and `train`
(training runs and tail-patch probes: run it on GPU/TPU hosts with --concurrency 1 and
--prefetch-multiplier 1). Every task acknowledges late, so a message whose worker died is
delivered again; a run's lease (webapp.retraining.leases) makes that safe.
"""

import os
from pathlib import Path

from celery.schedules import schedule
from kombu import Queue

_VAR_DIR = Path(os.environ.get("EMBER_VAR_DIR", Path(__file__).resolve().parents[3] / "var"))
_BROKER_DIR = _VAR_DIR / "broker"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # An unacknowledged message comes back after this long (keep above the longest task).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("EMBER_BROKER_VISIBILITY_TIMEOUT", 7 * 3600))
    }
else:
    # Embedded default: a broker that needs no server (files under var/broker).
    for _sub in ("out", "processed", "control"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    # (a hostname, though unused, keeps kombu from warning that none was given)
    CELERY_BROKER_URL = "filesystem://localhost//"
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
CELERY_TASK_QUEUES = (Queue("default"), Queue("judge"), Queue("train"))
CELERY_TASK_ROUTES = {
    "ember.judge.*": {"queue": "judge"},
    "ember.train.*": {"queue": "train"},
    "ember.default.*": {"queue": "default"},
}
CELERY_TASK_SOFT_TIME_LIMIT = 3 * 3600
CELERY_TASK_TIME_LIMIT = 3 * 3600 + 300
# Training may run longer than the other tasks (a soft limit fails the run with its error).
EMBER_TRAIN_TIME_LIMIT = int(os.environ.get("EMBER_TRAIN_TIME_LIMIT", 6 * 3600))
_TRAIN_LIMITS = {
    "soft_time_limit": EMBER_TRAIN_TIME_LIMIT,
    "time_limit": EMBER_TRAIN_TIME_LIMIT + 300,
}
CELERY_TASK_ANNOTATIONS = {
    "ember.train.execute_run": _TRAIN_LIMITS,
    "ember.train.tailpatch_probe": _TRAIN_LIMITS,
    "ember.train.join_run": _TRAIN_LIMITS,
    "ember.judge.judge_items": {"soft_time_limit": 1800, "time_limit": 1900},
    "ember.default.fold_and_retrain_check": {"soft_time_limit": 300, "time_limit": 360},
    "ember.default.recover_jobs": {"soft_time_limit": 300, "time_limit": 360},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker's console lines (webapp/config/logs.py says what is shown at which level).
CELERY_WORKER_LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
CELERY_WORKER_TASK_LOG_FORMAT = "%(asctime)s %(levelname)s %(task_name)s: %(message)s"
CELERY_BEAT_SCHEDULE_FILENAME = str(_VAR_DIR / "celerybeat-schedule")

# A training run's lease: a worker renews it every few seconds while it holds the run; when it
# has not for this long, the recover check resends the run and another worker resumes it.
EMBER_RUN_LEASE_SECONDS = float(os.environ.get("EMBER_RUN_LEASE_SECONDS", "120"))
# A run whose worker died this many times is marked failed instead of resumed again.
EMBER_RUN_MAX_ATTEMPTS = int(os.environ.get("EMBER_RUN_MAX_ATTEMPTS", "3"))
# Retries of a run after transient database/broker errors, and the wait between them.
EMBER_TRANSIENT_RETRIES = int(os.environ.get("EMBER_TRANSIENT_RETRIES", "8"))
EMBER_TRANSIENT_RETRY_SECONDS = float(os.environ.get("EMBER_TRANSIENT_RETRY_SECONDS", "15"))
EMBER_RECOVER_SECONDS = float(os.environ.get("EMBER_RECOVER_SECONDS", "60"))
# Uploads left at the column-mapping step (or imported) are deleted after this long (hourly).
EMBER_UPLOAD_KEEP_SECONDS = float(os.environ.get("EMBER_UPLOAD_KEEP_SECONDS", 24 * 3600))
# Multi-host training (webapp/retraining/hosts.py): hosts per run (one train worker on each),
# the address peers reach the run's coordinator at (default: this host's address), and how long
# the run waits for every peer to join before it fails.
EMBER_TRAIN_HOSTS = int(os.environ.get("EMBER_TRAIN_HOSTS", "1"))
EMBER_TRAIN_COORDINATOR_HOST = os.environ.get("EMBER_TRAIN_COORDINATOR_HOST", "")
EMBER_TRAIN_HOSTS_JOIN_SECONDS = float(os.environ.get("EMBER_TRAIN_HOSTS_JOIN_SECONDS", "120"))

CELERY_BEAT_SCHEDULE = {
    "fold-and-retrain-check": {
        "task": "ember.default.fold_and_retrain_check",
        "schedule": schedule(float(os.environ.get("EMBER_RETRAIN_CHECK_SECONDS", "60"))),
    },
    "recover-jobs": {
        "task": "ember.default.recover_jobs",
        "schedule": schedule(EMBER_RECOVER_SECONDS),
    },
    "uploads-sweep": {
        "task": "ember.default.uploads_sweep",
        "schedule": schedule(3600.0),
    },
}
