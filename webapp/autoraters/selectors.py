"""Reads for autoraters."""

from __future__ import annotations

from webapp.autoraters.models import AutoraterVersion, ModelJudgment


def version_promoted_for(project_id: int) -> AutoraterVersion | None:
    return AutoraterVersion.objects.filter(
        project_id=project_id, status=AutoraterVersion.Status.PROMOTED
    ).first()


def judgment_for(*, item_id: int, version: AutoraterVersion | None) -> ModelJudgment | None:
    if version is None:
        return None
    return ModelJudgment.objects.filter(item_id=item_id, version=version).first()


def version_list_for(project_id: int):
    return AutoraterVersion.objects.filter(project_id=project_id).select_related("training_run")
