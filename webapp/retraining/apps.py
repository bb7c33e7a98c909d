from django.apps import AppConfig


class RetrainingConfig(AppConfig):
    """Retraining and the autorater registry's pages. The package was webapp.jobs: the app label
    stays "jobs" so its migrations, tables (jobs_trainingrun, ...) and content types stay valid."""

    name = "webapp.retraining"
    label = "jobs"
