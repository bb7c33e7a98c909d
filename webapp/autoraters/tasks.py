"""Judge queue: thin adapters from messages (ids) to services."""

from celery import shared_task


@shared_task(name="ember.judge.judge_items", acks_late=True)
def judge_items_task(version_id: int, item_ids: list[int], **kwargs) -> int:
    from webapp.autoraters.services import judge_items

    return judge_items(version_id=version_id, item_ids=item_ids)
