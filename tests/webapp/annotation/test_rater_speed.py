"""The rater speed metric: a label records its time on the item (claim to submit, on the server,
narrowed by the page's clamped visible time), and the Insights rater page shows its median."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Assignment, Item, Project
from webapp.annotation.rater_services import (
    annotation_submit,
    assignment_claim_next,
    seconds_on_item,
)
from webapp.api.services import token_create
from webapp.insights.rollup import rollup_refresh

pytestmark = pytest.mark.django_db

TOLERANCE = 5.0  # seconds: the test's own statements run between "claim" and "submit"


@pytest.fixture
def project() -> Project:
    return demo_project_ensure(n_per_task=4)


@pytest.fixture
def rater(project):
    return get_user_model().objects.get(username="rater")


def _claim_aged(project: Project, rater, seconds: float) -> Item:
    """Claim the rater's next item and move the claim's time `seconds` into the past."""
    item = assignment_claim_next(project=project, rater=rater)
    assert item is not None
    back = timedelta(seconds=seconds)
    Assignment.objects.filter(item=item, rater=rater).update(
        created_at=F("created_at") - back, updated_at=F("updated_at") - back
    )
    return item


def _label(item: Item) -> str:
    return item.task.labels[0]


def test_a_label_records_the_time_since_its_claim(project, rater):
    item = _claim_aged(project, rater, 42)
    annotation, created = annotation_submit(
        item=item, annotator=rater, label=_label(item), submission_key="speed-1"
    )
    assert created
    assert annotation.seconds_spent == pytest.approx(42, abs=TOLERANCE)
    stored = Annotation.objects.get(pk=annotation.pk)
    assert stored.seconds_spent == pytest.approx(42, abs=TOLERANCE)
    assert not Assignment.objects.filter(item=item, rater=rater).exists()  # released

    # No claim, no measured time: nothing is invented (the medians leave None out).
    other = get_user_model().objects.create_user("unclaimed", password="pw-unclaimed-1")
    unclaimed, _ = annotation_submit(
        item=item, annotator=other, label=_label(item), submission_key="speed-2"
    )
    assert unclaimed.seconds_spent is None


def test_the_page_label_records_it_and_the_api_reports_it(client, project, rater):
    client.force_login(rater)
    assert client.get(reverse("queue", args=[project.slug])).status_code == 200
    claim = Assignment.objects.get(rater=rater, item__project=project)
    item = claim.item
    Assignment.objects.filter(pk=claim.pk).update(
        created_at=F("created_at") - timedelta(seconds=30),
        updated_at=F("updated_at") - timedelta(seconds=30),
    )
    response = client.post(
        reverse("submit-label", args=[project.slug, item.pk]),
        {"label": _label(item), "submission_key": "page-1", "seconds_visible": "12.5"},
    )
    assert response.status_code == 200
    annotation = Annotation.objects.get(item=item, annotator=rater)
    assert annotation.seconds_spent == pytest.approx(12.5)  # the page's time, under the 30 s

    admin = get_user_model().objects.get(username="admin")
    secret = token_create(user=admin, name="speed", scopes=["read"])[1]
    body = client.get(
        f"/api/v1/projects/{project.slug}/judgments/human?annotator=rater",
        headers={"Authorization": f"Bearer {secret}"},
    ).json()
    assert [(h["item_id"], h["seconds_spent"]) for h in body["results"]] == [(item.pk, 12.5)]


def test_a_client_time_never_exceeds_the_claim_to_submit_time(client, project, rater):
    item = _claim_aged(project, rater, 20)
    annotation, _ = annotation_submit(
        item=item,
        annotator=rater,
        label=_label(item),
        submission_key="clamp-1",
        client_seconds=3600.0,
    )
    assert annotation.seconds_spent == pytest.approx(20, abs=TOLERANCE)

    # Through the page: a negative or non-numeric value is ignored (the server's time stands)
    # and does not cost the rater their label.
    client.force_login(rater)
    for key, sent in (("clamp-2", "-30"), ("clamp-3", "soon"), ("clamp-4", "nan")):
        item = _claim_aged(project, rater, 15)
        response = client.post(
            reverse("submit-label", args=[project.slug, item.pk]),
            {"label": _label(item), "submission_key": key, "seconds_visible": sent},
        )
        assert response.status_code == 200
        stored = Annotation.objects.get(submission_key=key).seconds_spent
        assert stored == pytest.approx(15, abs=TOLERANCE), sent


def test_the_time_counts_to_the_claims_expiry_at_most():
    taken = timezone.now() - timedelta(hours=2)
    claim = (taken, taken + timedelta(seconds=600))
    assert seconds_on_item(claim=claim, now=taken + timedelta(seconds=90)) == 90
    assert seconds_on_item(claim=claim, now=taken + timedelta(hours=1)) == 600
    assert seconds_on_item(claim=claim, client_seconds=7200.0) == 600
    assert seconds_on_item(claim=claim, client_seconds=math.inf) == 600
    assert seconds_on_item(claim=claim, client_seconds=45.0) == 45
    assert seconds_on_item(claim=None, client_seconds=45.0) is None


def test_the_rater_page_shows_the_median_speed(client, project, rater):
    for n, seconds in enumerate((10, 20, 60)):
        item = _claim_aged(project, rater, seconds)
        annotation_submit(item=item, annotator=rater, label=_label(item), submission_key=f"m{n}")
    # A rater whose labels have no measured time: no speed, and the page still renders.
    silent = get_user_model().objects.create_user("silent", password="pw-silent-123")
    item = Item.objects.filter(project=project).first()
    annotation_submit(item=item, annotator=silent, label=_label(item), submission_key="silent")

    analyst = get_user_model().objects.create_user("speed-analyst", password="pw-analyst-123")
    project.raters.add(analyst, through_defaults={"role": "analyst"})
    rollup_refresh(project=project)
    client.force_login(analyst)
    response = client.get(reverse("insights-raters", args=[project.slug]))
    assert response.status_code == 200
    rows = {r["rater"]: r for r in response.context["rows"]}
    assert rows["rater"]["median_seconds"] == pytest.approx(20, abs=TOLERANCE)
    assert rows["rater"]["mean_seconds"] == pytest.approx(30, abs=TOLERANCE)
    assert rows["silent"]["median_seconds"] is None
    assert rows["silent"]["mean_seconds"] is None
    exported = client.get(reverse("insights-raters", args=[project.slug]) + "?export=jsonl")
    assert exported.status_code == 200
    lines = [json.loads(line) for line in exported.content.decode().splitlines() if line]
    by_rater = {line["rater"]: line for line in lines}
    assert by_rater["rater"]["median_seconds"] == pytest.approx(20, abs=TOLERANCE)
    assert by_rater["silent"]["median_seconds"] is None
