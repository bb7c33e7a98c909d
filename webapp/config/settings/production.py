"""Production: secrets and hosts must come from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

from webapp.config.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if len(SECRET_KEY) < 32 or SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured(
        "Set DJANGO_SECRET_KEY to a long random value (at least 32 characters); the "
        "development default is refused in production."
    )
SESSION_COOKIE_SECURE = os.environ.get("DJANGO_SECURE_COOKIES", "1") == "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
