"""Local development and the embedded single-machine run.

With no DATABASE_URL the database is the embedded PostgreSQL server
(webapp.config.embedded_postgres), started on the first query when it is not running, with its
data under EMBER_VAR_DIR (var/postgres).
"""

import os

from webapp.config.settings.base import *  # noqa: F403

DEBUG = True

# Static files come from the app folders and node_modules directly (no collectstatic needed).
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]  # noqa: F405

if not os.environ.get("DATABASE_URL"):
    from webapp.config import embedded_postgres

    DATABASES = {"default": embedded_postgres.database_settings(VAR_DIR)}  # noqa: F405
