"""Default queue: recompute a project's insight aggregates."""

from celery import shared_task


@shared_task(name="ember.default.insights_rollup_refresh", acks_late=True)
def rollup_refresh_task(project_id: int, **kwargs) -> int:
    from django.core.cache import cache

    from webapp.annotation.models import Project
    from webapp.insights.rollup import rollup_refresh

    try:
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            return 0
        return rollup_refresh(project=project).n_labels
    finally:
        cache.delete(f"insights-refresh:{project_id}")
