"""Insights in a real browser: the dashboard's charts, filters, the disagreement list, the
side-by-side drill-down and a CSV download."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model

from tests.integration.conftest import login
from tests.webapp.insights.conftest import build_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def analyst_world(transactional_db):
    world = build_world(seed=7, items_per_task=30, n_raters=4)
    user = get_user_model().objects.create_user("ana", password="pw-analyst-123")
    world["project"].raters.add(user, through_defaults={"role": "analyst"})
    return world


def test_dashboard_charts_filters_and_drill_down(browser, live_server, analyst_world):
    project = analyst_world["project"]
    page = login(browser, live_server, "ana", "pw-analyst-123")
    dialogs = []  # item text holds <script>alert(1)</script>: it must never run
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click(f"a[href='/p/{project.slug}/insights/']")
    page.wait_for_selector("[data-testid=agreement-summary]")
    # pictures: confusion heatmaps, reliability diagram, trends, breakdown bars
    assert page.locator("svg[data-testid^=chart-confusion] rect.cell").count() >= 4 + 9
    assert page.locator("svg[data-testid=chart-reliability] rect.bar").count() >= 1
    assert page.locator("svg[data-testid=chart-trend] polyline.series").count() >= 2
    assert page.locator("svg[data-testid=chart-by-rater] rect.bar").count() == 4
    kappa = page.locator("[data-testid=task-row][data-task=pairs] [data-testid=hm-kappa]")
    assert -1 <= float(kappa.get_attribute("data-value")) <= 1
    # filter by category: the page reloads with the filter applied
    page.select_option("select[name=category]", "math")
    page.click("[data-testid=apply-filters]")
    page.wait_for_url("**category=math**")
    assert page.locator("select[name=category]").input_value() == "math"
    # CSV export of the filtered dashboard
    with page.expect_download() as download_info:
        page.click("[data-testid=export-csv]")
    rows = list(csv.DictReader(io.StringIO(open(download_info.value.path()).read())))
    assert {r["section"] for r in rows} >= {"human_vs_autorater", "human_vs_human", "by_rater"}
    # disagreements, most confident first, then one item side by side
    page.click("[data-testid=insights-nav] >> text=Disagreements")
    page.wait_for_selector("[data-testid=disagreement-list]")
    confidences = [
        float(c)
        for c in page.locator("[data-testid=disagreement-row]").evaluate_all(
            "rows => rows.map(r => r.dataset.confidence)"
        )
        if c
    ]
    assert confidences and confidences == sorted(confidences, reverse=True)
    page.locator("[data-testid=disagreement-row] a").first.click()
    page.wait_for_selector("[data-testid=human-labels]")
    assert page.locator("[data-testid=human-label]").count() >= 1
    assert page.locator("[data-testid=verdict]").count() == 2  # both versions
    assert page.locator("[data-testid=order-ba]").count() >= 1 or (
        "topic" in page.locator("h2").first.inner_text().lower()
        or page.locator("[data-testid=item-content]").count() == 1
    )
    page.go_back()
    page.wait_for_selector("[data-testid=disagreement-list]")
    page.select_option("select[name=version]", "humans")
    page.click("[data-testid=apply-filters]")
    page.wait_for_url("**version=humans**")
    assert "the raters disagree" in page.locator("h1").inner_text()
    page.locator("[data-testid=disagreement-row] a").first.click()
    page.wait_for_selector("[data-testid=human-labels]")
    assert dialogs == []


def test_versions_and_raters_pages(browser, live_server, analyst_world):
    project = analyst_world["project"]
    page = login(browser, live_server, "ana", "pw-analyst-123")
    page.goto(f"{live_server.url}/p/{project.slug}/insights/versions/")
    page.wait_for_selector("[data-testid=version-summary]")
    assert page.locator("svg[data-testid=chart-versions] rect.bar").count() == 3
    assert page.locator("a[href$='/report/']").count() >= 2  # each version's evaluation report
    page.goto(f"{live_server.url}/p/{project.slug}/insights/raters/")
    page.wait_for_selector("[data-testid=rater-table]")
    assert page.locator("[data-testid=rater-row]").count() == 4
    assert page.locator("svg[data-testid=chart-raters] rect.bar").count() == 4
