"""Default queue: import a large upload (CSV, JSONL or pasted rows) with its column mapping."""

from celery import shared_task


@shared_task(name="ember.default.upload_import", acks_late=True)
def upload_import_task(token: str) -> str:
    from webapp.annotation.table_import import job_run

    return job_run(token)["state"]


@shared_task(name="ember.default.uploads_sweep")
def uploads_sweep_task(**kwargs) -> int:
    """Beat: delete uploads left at the mapping step (or imported) EMBER_UPLOAD_KEEP_SECONDS ago."""
    from django.conf import settings

    from webapp.annotation.table_import import uploads_sweep

    return len(uploads_sweep(settings.EMBER_UPLOAD_KEEP_SECONDS))
