"""Each task type's screen, keyboard labelling, skip, revision, adjudication and permissions,
in headless Chromium."""

import pytest
from django.contrib.auth import get_user_model

from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType
from tests.factories import classification_task, open_ended_task, pairwise_task, pointwise_task
from tests.integration.conftest import login
from webapp.annotation.models import Annotation, Assignment, Item, Project, Skip
from webapp.annotation.services import items_create, task_definition_upsert

pytestmark = pytest.mark.django_db(transaction=True)

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
TASKS = {
    "pairwise": pairwise_task("pair", prompt_field="conversation"),
    "likert": pointwise_task("likert"),
    "scale": pointwise_task("scale", scale=(0, 100)),
    "classification": classification_task("safety"),
    "open": open_ended_task("critique"),
}


def _context(task: Task) -> dict:
    if task.type is TaskType.PAIRWISE:
        turns = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": EVIL}]
        return {"conversation": turns, RESPONSE_A: EVIL, RESPONSE_B: "fine"}
    return {"text": EVIL}


@pytest.fixture
def people():
    make = get_user_model().objects.create_user
    rater, second, analyst, outsider = (
        make(n, password="pw") for n in ("ann", "bob", "ana", "out")
    )
    return {"rater": rater, "second": second, "analyst": analyst, "outsider": outsider}


@pytest.fixture
def project(people):
    project = Project.objects.create(name="Screens", slug="screens", raters_per_item=2)
    project.raters.add(people["rater"], people["second"])
    project.raters.add(people["analyst"], through_defaults={"role": "analyst"})
    for name, task in TASKS.items():
        definition = task_definition_upsert(project=project, task=task)
        items_create(
            project=project,
            definition=definition,
            examples=[Example(task=task.name, id=name, context=_context(task))],
        )
    return project


def _panel_item(page) -> Item:
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-settling')")
    return Item.objects.get(
        pk=int(page.locator("#item-panel [data-item-id]").first.get_attribute("data-item-id"))
    )


def _next(page):
    page.keyboard.press("n")
    page.locator("#item-panel [data-kind], [data-testid=queue-empty]").first.wait_for()


def test_every_task_type_by_keyboard_with_escaped_text(live_server, browser, project, people):
    page = login(browser, live_server, "ann", "pw")
    page.goto(f"{live_server.url}/p/{project.slug}/queue/")
    done = {}
    for _ in TASKS:
        item = _panel_item(page)
        kind = page.locator("#item-panel [data-kind]").get_attribute("data-kind")
        assert page.locator("#item-panel script").count() == 0
        assert EVIL in page.locator("#item-panel").inner_text()
        if kind == "pairwise":
            assert page.locator("#item-panel .turn").count() == 2
            page.keyboard.press("b")
            expected = "B"
        elif kind == "pointwise":
            page.keyboard.press("4")
            expected = "4"
        elif kind == "scale":
            page.get_by_test_id("scale-input").fill("73")
            page.get_by_test_id("scale-input").press("Enter")
            expected = "73"
        elif kind == "classification":
            page.keyboard.press("2")
            expected = "unsafe"
        else:
            page.get_by_test_id("free-text").fill("Too vague.")
            page.get_by_test_id("free-text").press("Control+Enter")
            expected = "Too vague."
        page.get_by_test_id("human-verdict").wait_for()
        assert Annotation.objects.get(item=item, annotator=people["rater"]).label == expected
        done[kind] = expected
        _next(page)
    assert set(done) == {"pairwise", "pointwise", "scale", "classification", "open_ended"}
    assert page.get_by_test_id("queue-empty").is_visible()
    assert page.evaluate("window.__pwned") is None


def test_next_pressed_while_the_next_item_is_still_loading_waits_for_it(
    live_server, browser, project, people
):
    """Pressing "n" before the preloaded next item has arrived shows that item when it comes;
    it does not ask the server for the next item a second time (which, with one open item
    left, found it held by the first ask and said the queue was empty)."""
    page = login(browser, live_server, "ann", "pw")
    held = []
    page.route("**/queue/?after=*", lambda route: held.append(route))
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{live_server.url}/p/{project.slug}/queue/")
    first = _panel_item(page)
    assert first.external_id == "pairwise"
    page.keyboard.press("b")
    page.get_by_test_id("human-verdict").wait_for()
    page.wait_for_function("document.querySelector('#preloaded-next.htmx-request')")
    assert len(held) == 1
    page.keyboard.press("n")
    page.wait_for_timeout(300)
    assert page.locator("#item-panel [data-revealed]").count() == 1
    held[0].continue_()
    page.locator("#item-panel [data-kind]").wait_for()
    shown = _panel_item(page)
    assert shown.pk != first.pk
    assert [url for url in asked if url.endswith("/queue/")] == [
        f"{live_server.url}/p/{project.slug}/queue/"
    ]
    assert Assignment.objects.filter(rater=people["rater"]).count() == 1
    assert Assignment.objects.get(rater=people["rater"]).item_id == shown.pk


def test_skip_flag_and_revision(live_server, browser, project, people):
    page = login(browser, live_server, "bob", "pw")
    page.goto(f"{live_server.url}/p/{project.slug}/queue/")
    first = _panel_item(page)
    page.on("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("f")
    page.wait_for_function(
        f"document.querySelector('[data-item-id]')?.dataset.itemId !== '{first.pk}'"
    )
    assert Skip.objects.get(item=first, rater=people["second"]).flagged
    second = _panel_item(page)
    page.keyboard.press("s")
    page.wait_for_function(
        f"document.querySelector('[data-item-id]')?.dataset.itemId !== '{second.pk}'"
    )
    third = _panel_item(page)
    assert third.pk not in (first.pk, second.pk)
    assert third.external_id == "scale"
    # Label it, then change the label: a second revision, the first kept.
    page.get_by_test_id("scale-input").fill("10")
    page.get_by_test_id("scale-input").press("Enter")
    page.get_by_test_id("human-verdict").wait_for()
    page.keyboard.press("e")
    page.get_by_test_id("revising").wait_for()
    page.get_by_test_id("scale-input").fill("20")
    page.get_by_test_id("scale-input").press("Enter")
    page.get_by_test_id("human-verdict").wait_for()
    revisions = Annotation.objects.filter(item=third, annotator=people["second"]).order_by(
        "revision"
    )
    assert [(a.label, a.revision, a.is_current) for a in revisions] == [
        ("10", 1, False),
        ("20", 2, True),
    ]
    assert "revision 2" in page.get_by_test_id("human-verdict").inner_text()


def test_adjudication_and_permission_boundaries(live_server, browser, project, people):
    item = Item.objects.get(external_id="classification")
    for user, label in ((people["rater"], "safe"), (people["second"], "unsafe")):
        Annotation.objects.create(
            item=item, annotator=user, label=label, submission_key=f"{user.pk}"
        )
    # A rater cannot adjudicate, retrain, or import; an outsider cannot open the queue.
    rater = login(browser, live_server, "ann", "pw")
    for path in ("adjudicate/", "autorater/", "data/"):
        response = rater.goto(f"{live_server.url}/p/{project.slug}/{path}")
        assert response.status == 403, path
    outsider = login(browser, live_server, "out", "pw")
    assert outsider.goto(f"{live_server.url}/p/{project.slug}/queue/").status == 403
    assert "Screens" not in outsider.goto(f"{live_server.url}/").text()

    analyst = login(browser, live_server, "ana", "pw")
    analyst.goto(f"{live_server.url}/p/{project.slug}/adjudicate/")
    analyst.get_by_role("link", name="classification").click()
    labels = analyst.get_by_test_id("all-labels").inner_text()
    assert "ann" in labels and "safe" in labels and "bob" in labels and "unsafe" in labels
    analyst.get_by_test_id("adjudicate-unsafe").click()
    analyst.get_by_test_id("adjudicated").wait_for()
    item.refresh_from_db()
    assert item.gold_label == "unsafe" and item.adjudicated_by == people["analyst"]
    assert Annotation.objects.filter(item=item).count() == 2
