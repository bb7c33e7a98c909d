"""Local development and the embedded single-machine run."""

from webapp.config.settings.base import *  # noqa: F403

DEBUG = True

# Static files come from the app folders and node_modules directly (no collectstatic needed).
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]  # noqa: F405
