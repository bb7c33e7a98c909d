"""An admin retrains in the browser: live progress (step, loss, throughput, ETA), then a
registered, evaluated version with its lineage in the versions table; a second run is
cancelled from the page. Real server, Postgres, Redis, Celery worker, Flax, Chromium."""

import pytest

from tests.conftest import wait_until
from tests.integration.conftest import login
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_retrain_in_browser_shows_progress_lineage_and_cancel(live_server, celery_worker, browser):
    project = demo_project_ensure(n_per_task=20)
    page = login(browser, live_server, "admin", "admin")
    page.goto(f"{live_server.url}/p/{project.slug}/autorater/")
    page.select_option("select[name=variant]", "flame")
    page.get_by_test_id("retrain").click()
    seen = set()

    def finished():
        if page.get_by_test_id("run-throughput").count():
            seen.add("throughput")
        if page.get_by_test_id("run-eta").count():
            seen.add("eta")
        status = page.get_by_test_id("run-status").inner_text()
        return status in {"succeeded", "failed"} and status

    assert wait_until(finished, timeout=300, interval=0.25, what="the run") == "succeeded"
    assert seen == {"throughput", "eta"}, seen
    run = TrainingRun.objects.get(project=project)
    version = AutoraterVersion.objects.get(training_run=run)
    assert "Held-out human labels" in page.get_by_test_id("run-metrics").inner_text()
    assert "passed" in page.get_by_test_id("run-gate").inner_text()
    row = page.get_by_test_id("version-row").first
    row.wait_for()
    lineage = row.get_by_test_id("version-lineage").inner_text()
    assert version.snapshot_hash[:12] in lineage
    assert f"{run.total_steps} steps" in lineage and "flame" in lineage
    assert "demo_arithmetic" in row.get_by_test_id("lineage-weights").inner_text()
    assert row.get_by_test_id("version-status").inner_text() == "promoted"
    baseline = version.metrics["lexical_baseline"]
    shown = row.get_by_test_id("baseline-accuracy").inner_text()
    assert shown == f"{baseline['accuracy']['value'] * 100:.1f}%"
    assert row.get_by_test_id("baseline-marker").count() == (baseline["outcome"] != "beats")
    assert version.metrics["n"] > 0 and version.gate["passed"]
    assert version.config["train"]["steps"] == run.total_steps

    # A second run, cancelled from the page while it trains. It is given far more steps than
    # it can finish in the test, so the cancel always lands during training (with the 120-step
    # test setting a warm second run could finish before the click reached the worker).
    settings_form = page.get_by_test_id("training-settings")
    settings_form.get_by_test_id("training-overrides").locator("summary").click()
    settings_form.locator("input[name='override:steps']").fill("100000")
    settings_form.locator("button[type=submit]").click()
    page.get_by_test_id("settings-saved").wait_for()
    page.get_by_test_id("retrain").click()
    wait_until(
        lambda: (
            page.get_by_test_id("run-status").inner_text() == "running"
            and int(page.get_by_test_id("run-step").inner_text()) > 0
        ),
        timeout=300,
        interval=0.25,
        what="the second run to train",
    )
    page.get_by_test_id("run-cancel").click()
    wait_until(
        lambda: page.get_by_test_id("run-status").inner_text() == "cancelled",
        timeout=120,
        interval=0.25,
        what="the cancel",
    )
    second = TrainingRun.objects.filter(project=project).first()
    assert second.status == "cancelled" and second.step < second.total_steps
    assert AutoraterVersion.objects.filter(project=project).count() == 1
