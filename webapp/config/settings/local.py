"""Local development and the embedded single-machine run."""

from webapp.config.settings.base import *  # noqa: F403

DEBUG = True
