"""Default queue: import a large upload (CSV, JSONL or pasted rows) with its column mapping."""

from celery import shared_task


@shared_task(name="ember.default.upload_import", acks_late=True)
def upload_import_task(token: str) -> str:
    from webapp.annotation.table_import import job_run

    return job_run(token)["state"]
