"""Reads for autoraters."""

from __future__ import annotations

from webapp.autoraters.models import AutoraterVersion, ModelJudgment


def version_promoted_for(project_id: int) -> AutoraterVersion | None:
    # Raw: every label submit asks (twice), and building the queryset cost more than running it.
    found = AutoraterVersion.objects.raw(
        f"SELECT * FROM {AutoraterVersion._meta.db_table} WHERE project_id = %s AND status = %s",
        [project_id, AutoraterVersion.Status.PROMOTED.value],
    )
    return next(iter(found), None)  # one at most (one_promoted_version_per_project)


def judgment_for(*, item_id: int, version: AutoraterVersion | None) -> ModelJudgment | None:
    if version is None:
        return None
    return ModelJudgment.objects.filter(item_id=item_id, version=version).first()


def version_list_for(project_id: int):
    return AutoraterVersion.objects.filter(project_id=project_id).select_related("training_run")
