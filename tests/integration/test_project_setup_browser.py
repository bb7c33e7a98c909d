"""A team sets up its own project in headless Chromium: an admin creates a project, writes a
pairwise rubric while the preview shows the rater's screen, uploads a CSV through the column
mapping step (a bad row first: listed, nothing written), and a rater then labels an uploaded
item by keyboard. Screenshots of each page: see SHOTS."""

import os
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.integration.conftest import login
from webapp.annotation.models import Annotation, Item, Project, TaskDefinition

pytestmark = pytest.mark.django_db(transaction=True)

# docs/screenshots/ is refreshed with EMBER_SCREENSHOTS_DIR=docs/screenshots (docs/tests.md);
# a plain run writes its screenshots outside the working tree.
SHOTS = Path(os.environ.get("EMBER_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "ember-shots")
CSV = (
    "prompt,first,second,winner,uid\n"
    "What is 2+2?,4,5,A,q1\n"
    '"Say hi, please",hello,"<img src=x onerror=""window.__pwned=1"">",B,q2\n'
    "Capital of France?,Paris,Lyon,A,q3\n"
)


def _shot(target, name: str, full_page: bool = True) -> None:
    """A page (full length unless told) or one element of it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    options = {"full_page": full_page} if hasattr(target, "goto") else {}
    target.screenshot(path=str(SHOTS / f"{name}.png"), **options)


def test_admin_sets_up_a_project_and_a_rater_labels(live_server, browser, tmp_path):
    users = get_user_model().objects
    users.create_superuser("boss", password="pw")
    rater = users.create_user("ann", password="pw")
    page = login(browser, live_server, "boss", "pw")
    page.set_viewport_size({"width": 1280, "height": 900})

    # 1. The project.
    page.get_by_test_id("project-new-link").click()
    page.fill("input[name=name]", "Support bot")
    page.fill("textarea[name=description]", "Which reply helps the customer more?")
    page.fill("input[name=raters_per_item]", "1")
    page.select_option("select[name=routing]", "sequential")
    page.fill("input[name=heldout_percent]", "0")
    _shot(page, "project-new")
    page.get_by_test_id("project-submit").click()
    page.wait_for_url(f"{live_server.url}/p/support-bot/settings/")
    project = Project.objects.get(slug="support-bot")
    assert project.heldout_percent == 0 and not project.reveal_autorater_before_submit

    # 2. The rubric, with the rater's screen previewed as it is written.
    page.get_by_test_id("rubric-new").click()
    page.select_option("select[name=type]", "pairwise")
    page.fill("input[name=name]", "helpfulness")
    page.fill("input[name=title]", "Which reply is more helpful?")
    page.fill("textarea[name=guidelines]", "Prefer the reply that solves the problem.")
    page.fill("textarea[name=context_fields]", "question")
    page.uncheck("input[name=allow_tie]")
    preview = page.get_by_test_id("rubric-preview")
    preview.locator("h2.task-title", has_text="Which reply is more helpful?").wait_for()
    preview.locator("button.choice", has_text="Tie").wait_for(state="detached")
    assert preview.locator("button.choice").all_inner_texts() == ["A is better a", "B is better b"]
    page.check("input[name=allow_tie]")
    preview.locator("button.choice", has_text="Tie").wait_for()
    # The preview is inert: the rater's keys do nothing on this page.
    page.locator("h1").click()
    page.keyboard.press("a")
    _shot(page, "rubric-form")
    page.get_by_test_id("rubric-submit").click()
    page.get_by_test_id("rubric-saved").wait_for()
    definition = TaskDefinition.objects.get(project=project, name="helpfulness")
    assert definition.labels == ["A", "B", "tie"]
    assert definition.context_fields == ["question", "response A", "response B"]

    # 3. The CSV, through the mapping step: first with a bad row, then the good file.
    page.goto(f"{live_server.url}/")
    page.get_by_test_id("settings-link").click()
    page.get_by_test_id("rubrics").wait_for()
    _shot(page, "project-settings")
    page.get_by_test_id("upload-link").click()
    page.get_by_test_id("upload-form").wait_for()
    _shot(page, "upload", full_page=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "Who?,a,b,C,q4\n")
    page.get_by_test_id("upload-file").set_input_files(str(bad))
    page.get_by_test_id("upload-submit").click()
    page.get_by_test_id("upload-preview").wait_for()
    page.select_option("[data-testid=map-question]", "prompt")
    page.select_option("[data-testid=map-response-a]", "first")
    page.select_option("[data-testid=map-response-b]", "second")
    page.select_option("[data-testid=map-label]", "winner")
    page.select_option("[data-testid=map-id]", "uid")
    page.get_by_test_id("upload-import").click()
    errors = page.get_by_test_id("upload-errors")
    errors.wait_for()
    assert "label 'C' not in" in errors.inner_text()
    assert errors.locator("td").first.inner_text() == "5"
    assert not Item.objects.exists()
    _shot(page, "upload-errors")

    page.goto(f"{live_server.url}/p/support-bot/upload/")
    good = tmp_path / "replies.csv"
    good.write_text(CSV)
    page.get_by_test_id("upload-file").set_input_files(str(good))
    page.get_by_test_id("upload-submit").click()
    page.get_by_test_id("upload-preview").wait_for()
    assert page.get_by_test_id("upload-preview").locator("tbody tr").count() == 3
    page.select_option("[data-testid=map-question]", "prompt")
    page.select_option("[data-testid=map-response-a]", "first")
    page.select_option("[data-testid=map-response-b]", "second")
    page.select_option("[data-testid=map-id]", "uid")
    page.fill("[data-testid=upload-heldout]", "0")
    _shot(page, "upload-mapping")
    # Submitted from the keyboard (Enter on the button): a mouse click right after a screenshot
    # was seen to reach the form around the button instead (a click listener named the form).
    page.get_by_test_id("upload-import").press("Enter")
    page.get_by_test_id("upload-result").wait_for()
    assert "Imported 3 new items" in page.get_by_test_id("upload-result").inner_text()
    assert sorted(Item.objects.values_list("external_id", flat=True)) == ["q1", "q2", "q3"]

    # 4. A rater of the project opens an item and labels it by keyboard.
    project.raters.add(rater)
    rater_page = login(browser, live_server, "ann", "pw")
    rater_page.goto(f"{live_server.url}/p/support-bot/queue/")
    panel = rater_page.locator("#item-panel [data-item-id]")
    panel.wait_for()
    assert "Which reply is more helpful?" in panel.inner_text()
    assert "What is 2+2?" in panel.inner_text()
    item_id = int(panel.get_attribute("data-item-id"))
    rater_page.keyboard.press("a")
    rater_page.get_by_test_id("human-verdict").wait_for()
    assert Annotation.objects.get(item_id=item_id, annotator=rater).label == "A"
    assert rater_page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__pwned") is None

    # 5. The admin edits the labelled rubric: a new version; the labelled item keeps the old one.
    page.goto(f"{live_server.url}/p/support-bot/rubrics/{definition.pk}/")
    page.get_by_test_id("rubric-has-labels").wait_for()
    page.fill("input[name=title]", "Which reply helps the customer more?")
    page.get_by_test_id("rubric-submit").press("Enter")
    page.get_by_test_id("rubric-versioned").wait_for()
    new = TaskDefinition.objects.get(project=project, name="helpfulness-v2")
    assert new.previous_id == definition.pk and new.title == "Which reply helps the customer more?"
    assert Item.objects.get(pk=item_id).task_id == definition.pk
    assert TaskDefinition.objects.get(pk=definition.pk).retired
    assert "helpfulness-v2" in page.get_by_test_id("rubric-versions").inner_text()
    _shot(page, "rubric-versioned")


def test_training_settings_form_in_the_browser(live_server, browser):
    from tests.factories import classification_task
    from webapp.annotation.project_services import rubric_create
    from webapp.retraining.models import TrainingSettings

    get_user_model().objects.create_superuser("boss", password="pw")
    project = Project.objects.create(name="Settings", slug="settings")
    rubric_create(project=project, task=classification_task("safety"))
    rubric_create(project=project, task=classification_task("tone", labels=("calm", "rude")))
    page = login(browser, live_server, "boss", "pw")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/p/settings/autorater/")
    form = page.get_by_test_id("training-settings")
    assert form.locator("textarea").count() == 0
    form.locator("input[name='weight:safety']").fill("3")
    form.locator("input[name='weight:tone']").fill("1")
    form.get_by_test_id("training-overrides").locator("summary").click()
    form.locator("input[name='override:steps']").fill("0")
    form.locator("button[type=submit]").click()
    error = page.get_by_test_id("override-error")
    error.wait_for()
    assert "steps and batch_size must be >= 1" in error.inner_text()
    assert TrainingSettings.objects.get(project=project).mixture_weights == {}
    form = page.get_by_test_id("training-settings")
    form.locator("input[name='override:steps']").fill("300")
    form.locator("select[name='override:lr_schedule']").select_option("constant")
    form.locator("button[type=submit]").click()
    page.get_by_test_id("settings-saved").wait_for()
    page.get_by_test_id("training-overrides").locator("summary").click()
    _shot(page.locator("#training-settings"), "training-settings")
    saved = TrainingSettings.objects.get(project=project)
    assert saved.mixture_weights == {"safety": 3.0, "tone": 1.0}
    assert saved.config_overrides == {"steps": 300, "lr_schedule": "constant"}
