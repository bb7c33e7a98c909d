"""People and per-project roles in headless Chromium: a project's admin (not a superuser) adds
a rater and an analyst on the people page and makes an invitation link; the rater labels by
keyboard; the analyst opens Insights and the items browser; a user with a role only in another
project gets 403 on each of this project's pages. Screenshots: see SHOTS."""

import os
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from tests.factories import pairwise_task
from tests.integration.conftest import login
from webapp.annotation.models import Annotation, Membership, Project
from webapp.annotation.services import items_create, task_definition_upsert
from webapp.audit.models import AuditLog

pytestmark = pytest.mark.django_db(transaction=True)

# docs/screenshots/ is refreshed with EMBER_SCREENSHOTS_DIR=docs/screenshots (docs/tests.md);
# a plain run writes its screenshots outside the working tree.
SHOTS = Path(os.environ.get("EMBER_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "ember-shots")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def team():
    users = get_user_model().objects
    boss = users.create_user("boss", password="pw-boss-1234")
    for name in ("ann", "ana", "out"):
        users.create_user(name, password=f"pw-{name}-1234")
    project = Project.objects.create(name="Support answers", slug="support")
    project.raters.add(boss, through_defaults={"role": "admin"})
    other = Project.objects.create(name="Elsewhere", slug="elsewhere")
    other.raters.add(users.get(username="out"), through_defaults={"role": "admin"})
    task = pairwise_task("helpful")
    definition = task_definition_upsert(project=project, task=task)
    questions = ["How do I reset my password?", "Can I export my data?", "Is there a dark mode?"]
    items_create(
        project=project,
        definition=definition,
        examples=[
            Example(
                task=task.name,
                id=f"q{n}",
                context={
                    "question": question,
                    RESPONSE_A: "Open **Settings → Account** and choose *Reset*.",
                    RESPONSE_B: "No idea.",
                },
            )
            for n, question in enumerate(questions)
        ],
    )
    return project


def test_admin_adds_people_who_work_and_an_outsider_is_refused(live_server, browser, team):
    project = team
    base = f"{live_server.url}/p/{project.slug}"
    boss = login(browser, live_server, "boss", "pw-boss-1234")
    boss.get_by_test_id("people-link").click()
    for username, role in (("ann", "rater"), ("ana", "analyst")):
        boss.get_by_test_id("add-username").fill(username)
        boss.get_by_test_id("add-role").select_option(role)
        boss.get_by_test_id("add-submit").click()
        boss.get_by_test_id(f"member-{username}").wait_for()
    boss.get_by_test_id("invite-note").fill("zoe@example.com")
    boss.get_by_test_id("invite-role").select_option("rater")
    boss.get_by_test_id("invite-submit").click()
    assert "/invite/" in boss.get_by_test_id("invite-link").input_value()
    _shot(boss, "people")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"boss": "admin", "ann": "rater", "ana": "analyst"}
    audited = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert audited == ["member.add", "member.add", "invite.create"]

    ann = login(browser, live_server, "ann", "pw-ann-1234")
    ann.goto(f"{base}/queue/")
    ann.locator("#item-panel [data-kind]").wait_for()
    ann.keyboard.press("a")
    ann.get_by_test_id("human-verdict").wait_for()
    assert Annotation.objects.filter(annotator__username="ann", label="A").count() == 1
    assert ann.goto(f"{base}/insights/").status == 403  # a rater is no analyst

    ana = login(browser, live_server, "ana", "pw-ana-1234")
    assert ana.goto(f"{base}/insights/").status == 200
    assert ana.locator("h1").first.inner_text()
    assert ana.goto(f"{base}/browse/").status == 200
    assert ana.get_by_test_id("item-row").count() == 3
    ana.get_by_test_id("filter-state").select_option("done")
    ana.get_by_test_id("filter-submit").click()
    ana.wait_for_url("**state=done**")
    assert ana.get_by_test_id("item-row").count() == 1
    _shot(ana, "items")
    ana.get_by_test_id("item-link").click()
    ana.get_by_test_id("labels").wait_for()
    assert "ann" in ana.get_by_test_id("labels").inner_text()
    assert (
        ana.locator("[data-testid=item-content] strong").first.inner_text() == "Settings → Account"
    )
    _shot(ana, "item")

    out = login(browser, live_server, "out", "pw-out-1234")
    assert "Support answers" not in out.content()
    for path in ("queue/", "insights/", "browse/", "people/", "adjudicate/", "data/", "autorater/"):
        assert out.goto(f"{base}/{path}").status == 403, path
