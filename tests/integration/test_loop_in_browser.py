"""The whole loop as people walk it: an admin retrains, a rater labels and sees the verdict.

Real parts: live Django server, Postgres, Redis broker, a Celery worker process that trains a
real (tiny) Flax autorater and judges items, and headless Chromium driven by Playwright.
"""

import re

import pytest

from tests.conftest import wait_until
from tests.integration.conftest import login
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.retraining.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_retrains_then_rater_labels_and_sees_the_autorater(
    live_server, celery_worker, browser
):
    project = demo_project_ensure(n_per_task=30)

    # Step 5: the admin presses "retrain" and watches step and loss live.
    admin = login(browser, live_server, "admin", "admin")
    admin.goto(f"{live_server.url}/p/{project.slug}/autorater/")
    admin.get_by_test_id("retrain").click()
    seen_running = []

    def progress_or_done():
        status = admin.get_by_test_id("run-status").inner_text()
        step = admin.get_by_test_id("run-step").inner_text()
        if status == "running" and int(step) > 0 and admin.get_by_test_id("run-loss").count():
            seen_running.append((int(step), float(admin.get_by_test_id("run-loss").inner_text())))
        return status in {"succeeded", "failed"} and status

    final = wait_until(progress_or_done, timeout=300, interval=0.25, what="the training run")
    run = TrainingRun.objects.get(project=project)
    assert final == "succeeded", run.error
    assert seen_running, "the page never showed a running step with its loss"
    assert run.loss_history and run.step == run.total_steps > 0
    assert admin.locator("svg.loss-curve polyline").count() == 1
    # The versions table refreshes by itself when the run finishes.
    admin.get_by_test_id("version-row").first.wait_for()
    assert admin.get_by_test_id("version-status").first.inner_text() == "promoted"
    version = AutoraterVersion.objects.get(project=project)
    assert version.snapshot_hash == run.snapshot_hash and version.metrics["n"] > 0
    assert version.config["train"]["steps"] == run.total_steps

    # The version's evaluation report, with its pictures, is one click away.
    admin.get_by_test_id("version-report").first.click()
    admin.get_by_test_id("report-summary").wait_for()
    admin.wait_for_function(
        "Array.from(document.images).length >= 3 && "
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    )
    assert "always_first" in admin.get_by_test_id("report-summary").inner_text()

    # Step 2: a rater opens the queue and judges by keyboard; the label is stored in the request.
    rater = login(browser, live_server, "rater", "rater")
    rater.goto(f"{live_server.url}/p/{project.slug}/queue/")
    first_id = int(rater.locator("[data-item-id]").get_attribute("data-item-id"))
    rater.keyboard.press("a")
    rater.get_by_test_id("human-verdict").wait_for()
    assert Annotation.objects.get(item_id=first_id).label == "A"
    assert rater.url.endswith("/queue/"), "htmx swaps the panel in place"
    assert "A" in rater.get_by_test_id("human-verdict").inner_text()

    # Step 3: the autorater's verdict and confidence appear beside the human's.
    rater.get_by_test_id("autorater-label").wait_for(timeout=120_000)
    assert rater.get_by_test_id("autorater-label").inner_text() in {"A", "B", "tie"}
    assert re.fullmatch(r"\d+\.\d%", rater.get_by_test_id("autorater-confidence").inner_text())
    judgment = ModelJudgment.objects.get(item_id=first_id, version=version)
    assert set(judgment.order_probabilities) == {"ab", "ba"}

    # Next item by keyboard, then "b".
    rater.keyboard.press("n")
    rater.wait_for_function(
        f"document.querySelector('[data-item-id]')?.dataset.itemId !== '{first_id}'"
    )
    rater.wait_for_function("!document.querySelector('.htmx-request, .htmx-settling')")
    second_id = int(rater.locator("[data-item-id]").get_attribute("data-item-id"))
    rater.keyboard.press("b")
    rater.get_by_test_id("human-verdict").wait_for()
    assert Annotation.objects.get(item_id=second_id).label == "B"
    assert rater.url.endswith("/queue/")
    assert Annotation.objects.count() == 2
