"""Model text as people read it, in headless Chromium: a response's Markdown list, code block and
table are rendered on the rater screen, a `<script>` or `onerror=` in it never runs, and the
"Raw text" toggle (key r, or a click) shows the text as written on the rater screen, the reveal
panel and the disagreement drill-down."""

import pytest
from django.contrib.auth import get_user_model

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from tests.factories import pairwise_task
from tests.integration.conftest import login
from webapp.annotation.models import Item, Project
from webapp.annotation.services import items_create, task_definition_upsert

pytestmark = pytest.mark.django_db(transaction=True)

RESPONSE = (
    "Two steps:\n\n"
    "- install the **package**\n"
    "- run it\n\n"
    "```python\nprint('<b>hi</b>')\n```\n\n"
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">\n'
    "[click me](javascript:window.__pwned=3)"
)
TABLE = "| n | square |\n|---|---:|\n| 2 | 4 |\n| 3 | 9 |"


@pytest.fixture
def item():
    users = get_user_model().objects
    rater = users.create_user("ann", password="pw")
    analyst = users.create_user("ana", password="pw")
    project = Project.objects.create(name="Text", slug="text", raters_per_item=1)
    project.raters.add(rater)
    project.raters.add(analyst, through_defaults={"role": "analyst"})
    task = pairwise_task("pairs")
    definition = task_definition_upsert(project=project, task=task)
    context = {"question": "How do I *start*?", RESPONSE_A: RESPONSE, RESPONSE_B: TABLE}
    items_create(
        project=project,
        definition=definition,
        examples=[Example(task=task.name, id="md", context=context)],
    )
    return Item.objects.get(project=project)


def _rendered_and_raw(page, testid: str):
    box = page.locator(f"#item-panel [data-testid={testid}]").first
    return box.locator("[data-view=rendered]"), box.locator("[data-view=raw]")


def _never_ran(page, dialogs):
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert page.locator("main script, main img, main iframe").count() == 0


def test_rendered_markdown_safe_with_a_raw_toggle(live_server, browser, item):
    page = login(browser, live_server, "ann", "pw")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}/p/{item.project.slug}/queue/")
    rendered, raw = _rendered_and_raw(page, "response-A")
    rendered.wait_for()

    # Rendered: a list, a monospaced code block, a table; the markup shows as text.
    assert rendered.locator("li").count() == 2 and rendered.locator("li strong").inner_text() == (
        "package"
    )
    code = rendered.locator("pre code")
    assert code.inner_text().strip() == "print('<b>hi</b>')"
    assert "monospace" in code.evaluate("e => getComputedStyle(e).fontFamily")
    assert "<script>window.__pwned = 1</script>" in rendered.inner_text()
    assert rendered.locator("a").count() == 0  # the javascript: link is not a link
    table, _ = _rendered_and_raw(page, "response-B")
    assert table.locator("td").all_inner_texts() == ["2", "4", "3", "9"]
    assert not raw.is_visible()
    _never_ran(page, dialogs)

    # Raw text, by keyboard: exactly what the model wrote; the rendered view hides.
    page.keyboard.press("r")
    raw.wait_for(state="visible")
    assert raw.inner_text() == RESPONSE
    assert not rendered.is_visible()
    assert page.get_by_test_id("raw-toggle").get_attribute("aria-pressed") == "true"

    # The reveal panel shows the item too, still raw (the choice holds); a click renders it.
    page.keyboard.press("a")
    page.get_by_test_id("human-verdict").wait_for()
    rendered, raw = _rendered_and_raw(page, "response-A")
    assert raw.is_visible() and raw.inner_text() == RESPONSE
    page.locator("#item-panel [data-testid=raw-toggle]").click()
    rendered.wait_for(state="visible")
    assert rendered.locator("li").count() == 2 and not raw.is_visible()
    _never_ran(page, dialogs)

    # The disagreement drill-down: rendered, and raw on a click.
    analyst = login(browser, live_server, "ana", "pw")
    analyst.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    analyst.goto(f"{live_server.url}/p/{item.project.slug}/insights/items/{item.pk}/")
    content = analyst.get_by_test_id("item-content")
    content.locator("pre code").wait_for()
    assert content.locator("[data-view=rendered] li").count() == 2
    assert content.locator("[data-view=rendered] table td").count() == 4
    analyst.get_by_test_id("raw-toggle").click()
    raw_texts = content.locator("[data-view=raw]")
    raw_texts.nth(1).wait_for(state="visible")
    assert raw_texts.all_inner_texts() == ["How do I *start*?", RESPONSE, TABLE]
    assert not content.locator("[data-view=rendered]").first.is_visible()
    _never_ran(analyst, dialogs)
