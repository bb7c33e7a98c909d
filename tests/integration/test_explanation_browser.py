"""An autorater's explanation (generated after its verdict by a checkpoint trained to give one)
in headless Chromium: shown beside the verdict on the reveal panel and in the disagreement
drill-down, rendered through the Markdown filter (a `<script>` in it shows as text and never
runs), and returned by the API's autorater judgments."""

import pytest
from django.contrib.auth import get_user_model

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from tests.factories import pairwise_task
from tests.integration.conftest import login
from webapp.annotation.models import Item, Project
from webapp.annotation.services import items_create, task_definition_upsert
from webapp.api.services import token_create
from webapp.autoraters.models import AutoraterVersion, ModelJudgment

pytestmark = pytest.mark.django_db(transaction=True)

EXPLANATION = "because **B** names the word <script>window.__pwned = 1</script>"


@pytest.fixture
def item():
    users = get_user_model().objects
    rater = users.create_user("ann", password="pw")
    analyst = users.create_user("ana", password="pw")
    project = Project.objects.create(name="Why", slug="why", raters_per_item=1)
    project.raters.add(rater)
    project.raters.add(analyst, through_defaults={"role": "analyst"})
    task = pairwise_task("pairs")
    definition = task_definition_upsert(project=project, task=task)
    context = {"question": "Which?", RESPONSE_A: "one", RESPONSE_B: "two"}
    items_create(
        project=project,
        definition=definition,
        examples=[Example(task=task.name, id="why-1", context=context)],
    )
    item = Item.objects.get(project=project)
    version = AutoraterVersion.objects.create(
        project=project,
        number=1,
        status=AutoraterVersion.Status.PROMOTED,
        checkpoint_dir="/nonexistent/checkpoint",
        snapshot_hash="0" * 64,
    )
    ModelJudgment.objects.create(
        item=item,
        version=version,
        label="B",
        confidence=0.8,
        probabilities={"A": 0.2, "B": 0.8},
        order_probabilities={"ab": {"A": 0.2, "B": 0.8}, "ba": {"A": 0.2, "B": 0.8}},
        consistent=True,
        format_version="flame-v1",
        explanation=EXPLANATION,
    )
    return item


def test_explanation_on_the_reveal_panel_drill_down_and_api(live_server, browser, item):
    page = login(browser, live_server, "ann", "pw")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}/p/{item.project.slug}/queue/")
    page.locator("#item-panel [data-testid=response-A]").first.wait_for()
    page.keyboard.press("a")  # the rater picks A; the autorater said B, and why
    box = page.locator("#item-panel [data-testid=autorater-explanation]")
    box.wait_for()
    rendered = box.locator("[data-view=rendered]")
    assert rendered.locator("strong").inner_text() == "B"
    assert "<script>window.__pwned = 1</script>" in rendered.inner_text()
    assert page.get_by_test_id("disagreement-tags").is_visible()
    assert page.evaluate("window.__pwned") is None and dialogs == []
    assert page.locator("main script").count() == 0

    analyst = login(browser, live_server, "ana", "pw")
    analyst.goto(f"{live_server.url}/p/{item.project.slug}/insights/items/{item.pk}/")
    shown = analyst.locator("[data-testid=explanation]").first
    shown.wait_for()
    assert shown.locator("[data-view=rendered] strong").inner_text() == "B"
    assert "<script>" in shown.locator("[data-view=rendered]").inner_text()
    assert analyst.evaluate("window.__pwned") is None

    secret = token_create(
        user=get_user_model().objects.get(username="ana"), name="t", scopes=["read"]
    )[1]
    response = analyst.request.get(
        f"{live_server.url}/api/v1/projects/{item.project.slug}/judgments/autorater",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.ok, response.text()
    (row,) = response.json()["results"]
    assert row["explanation"] == EXPLANATION and row["label"] == "B"
