"""Rollback walks back through the versions that were live (v3 -> v2 -> v1), never flipping
between the last two; a rolled-back version promoted by hand is live again and back in the
normal history."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Item
from webapp.audit.models import AuditLog
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.autoraters.selectors import version_promoted_for
from webapp.autoraters.services import judge_items, version_promote, version_rollback

pytestmark = pytest.mark.django_db

Status = AutoraterVersion.Status


@pytest.fixture
def project():
    return demo_project_ensure(n_per_task=2)


@pytest.fixture
def admin(project):
    return get_user_model().objects.get(username="admin")


def _versions(project, admin, count: int) -> list[AutoraterVersion]:
    """Versions 1..count, each promoted in turn (the last one is live)."""
    versions = []
    for number in range(1, count + 1):
        version = AutoraterVersion.objects.create(
            project=project, number=number, checkpoint_dir="/nonexistent", snapshot_hash="x"
        )
        versions.append(version_promote(version=version, actor=admin))
    return versions


def _live(project) -> int:
    return version_promoted_for(project.pk).number


def _statuses(project) -> dict[int, str]:
    return dict(project.autorater_versions.values_list("number", "status"))


def _rollback_summaries() -> list[dict]:
    rows = AuditLog.objects.filter(action="version.rollback").order_by("pk")
    return [(row.summary["from"], row.summary["number"]) for row in rows]


def test_repeated_rollback_walks_back_and_stops_with_a_clear_error(project, admin):
    _versions(project, admin, 3)
    assert _live(project) == 3

    assert version_rollback(project=project, actor=admin).number == 2
    assert _statuses(project) == {1: Status.RETIRED, 2: Status.PROMOTED, 3: Status.ROLLED_BACK}
    # The second rollback goes on to v1 (it used to flip back to v3).
    assert version_rollback(project=project, actor=admin).number == 1
    assert _statuses(project) == {
        1: Status.PROMOTED,
        2: Status.ROLLED_BACK,
        3: Status.ROLLED_BACK,
    }
    assert _rollback_summaries() == [(3, 2), (2, 1)]

    with pytest.raises(ValueError, match="nothing earlier to roll back to"):
        version_rollback(project=project, actor=admin)
    assert _live(project) == 1
    assert _rollback_summaries() == [(3, 2), (2, 1)]  # the refused one wrote no audit row


def test_a_rolled_back_version_promoted_by_hand_is_live_and_back_in_the_history(project, admin):
    v1, v2, v3 = _versions(project, admin, 3)
    version_rollback(project=project, actor=admin)  # v3 -> v2
    v3.refresh_from_db()
    assert v3.status == Status.ROLLED_BACK

    version_promote(version=v3, actor=admin)
    assert _live(project) == 3
    assert _statuses(project) == {1: Status.RETIRED, 2: Status.RETIRED, 3: Status.PROMOTED}
    # Retired by a later promotion, v3 is a rollback target like any other once-live version.
    v4 = AutoraterVersion.objects.create(
        project=project, number=4, checkpoint_dir="/nonexistent", snapshot_hash="x"
    )
    version_promote(version=v4, actor=admin)
    assert version_rollback(project=project, actor=admin).number == 3
    assert version_rollback(project=project, actor=admin).number == 2
    assert version_rollback(project=project, actor=admin).number == 1
    with pytest.raises(ValueError, match="nothing earlier"):
        version_rollback(project=project, actor=admin)


def test_rolling_back_twice_through_the_page(project, admin):
    _versions(project, admin, 3)
    client = Client()
    client.force_login(admin)
    url = reverse("version-rollback", args=[project.slug])

    first = client.post(url)
    assert first.status_code == 200
    assert _live(project) == 2
    statuses = re.findall(r'data-testid="version-status">([^<]*)<', first.content.decode())
    assert statuses == ["rolled back", "promoted", "retired"]  # v3, v2, v1

    second = client.post(url)
    assert second.status_code == 200
    assert _live(project) == 1
    assert _statuses(project)[3] == Status.ROLLED_BACK

    third = client.post(url)
    assert third.status_code == 400
    assert "nothing earlier to roll back to" in third.content.decode()
    assert _live(project) == 1
    assert AuditLog.objects.filter(action="version.rollback").count() == 2


def test_routing_follows_the_version_rolled_back_to(project, admin):
    """A version that judged the items before it was rolled back to rewrites their routing
    priorities from its own verdicts (it judges nothing anew, so no model is loaded)."""
    v1, v2 = _versions(project, admin, 2)
    items = list(project.items.order_by("pk")[:2])
    sure, unsure = {"A": 0.95, "B": 0.05}, {"A": 0.5, "B": 0.5}
    # v1 was unsure of the first item and sure of the second; v2 the other way round.
    for version, first, second in ((v1, unsure, sure), (v2, sure, unsure)):
        for item, probabilities in zip(items, (first, second), strict=True):
            ModelJudgment.objects.create(
                item=item,
                version=version,
                label="A",
                confidence=max(probabilities.values()),
                probabilities=probabilities,
                consistent=True,
                valid=True,
            )
    ids = [item.pk for item in items]

    def priorities():
        return [Item.objects.get(pk=pk).route_priority for pk in ids]

    assert judge_items(version_id=v2.pk, item_ids=ids) == 0
    assert priorities()[1] > priorities()[0]
    version_rollback(project=project, actor=admin)
    assert judge_items(version_id=v1.pk, item_ids=ids) == 0
    assert priorities()[0] > priorities()[1]
