"""Tests: real Postgres and real Redis (started by scripts/test when not running)."""

import os

import dj_database_url

from webapp.config.settings.base import *  # noqa: F403
from webapp.config.settings.base import BASE_DIR

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ember")
    )
}
CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ARTIFACT_ROOT = Path(os.environ.get("EMBER_ARTIFACT_ROOT", BASE_DIR / "var" / "test-artifacts"))  # noqa: F405
EMBER_TRAIN_PRESET = os.environ.get("EMBER_TRAIN_PRESET", "smoke")
# Long enough (a few seconds) that the browser sees the run's step and loss move.
EMBER_TRAIN_OVERRIDES = {"steps": 120, "log_every": 4, "batch_size": 8}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Static files come from the app folders and node_modules directly (no collectstatic needed).
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]  # noqa: F405
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
