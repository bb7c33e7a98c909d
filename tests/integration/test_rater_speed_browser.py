"""The rater screen sends the item's visible time with the label (static/ember.js), in headless
Chromium: a preloaded item counts from when "n" shows it, not from its claim."""

import pytest
from django.contrib.auth import get_user_model

from tests.integration.conftest import login
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Assignment, Item

pytestmark = pytest.mark.django_db(transaction=True)


def _panel_item(page) -> Item:
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-settling')")
    pk = page.locator("#item-panel [data-item-id]").first.get_attribute("data-item-id")
    return Item.objects.get(pk=int(pk))


def test_the_page_sends_the_visible_time_of_a_preloaded_item(live_server, browser):
    project = demo_project_ensure(n_per_task=3)
    rater = get_user_model().objects.create_user("quick", password="pw-quick-123")
    project.raters.add(rater)
    sent = []
    page = login(browser, live_server, "quick", "pw-quick-123")
    page.on("request", lambda r: sent.append(r.post_data or "") if r.method == "POST" else None)
    page.goto(f"{live_server.url}/p/{project.slug}/queue/")

    first = _panel_item(page)
    page.wait_for_timeout(1000)
    page.keyboard.press("a")
    page.get_by_test_id("human-verdict").wait_for()
    assert "seconds_visible=" in sent[-1]
    spent = Annotation.objects.get(item=first, annotator=rater).seconds_spent
    assert spent is not None and spent >= 0.9

    # The next item is claimed (preloaded) now, while the rater reads the reveal for 3 s.
    page.locator("#preloaded-next section#item-panel").wait_for(state="attached")
    claim = Assignment.objects.exclude(item=first).get(rater=rater)
    page.wait_for_timeout(3000)
    page.keyboard.press("n")
    second = _panel_item(page)
    assert second.pk == claim.item_id
    page.keyboard.press("a")
    page.get_by_test_id("human-verdict").wait_for()
    label = Annotation.objects.get(item=second, annotator=rater)
    server_time = (label.created_at - claim.updated_at).total_seconds()
    assert server_time >= 3
    assert label.seconds_spent is not None and label.seconds_spent < server_time - 2
