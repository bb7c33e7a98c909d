"""Issue 20's import traps: every import (page, command, API) holds 20 % out unless the admin
chooses otherwise, and warns at 0 % (the promotion gate then has nothing to compare versions on);
an import can make its items gold (every example must carry its known answer), and an admin
marks or unmarks one item as gold on its adjudicate page, audited."""

from __future__ import annotations

import dataclasses
import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.splits import is_heldout
from judging.task_format import write_jsonl
from webapp.annotation.demo import demo_project_ensure, demo_users_ensure
from webapp.annotation.models import Item, Project, TaskDefinition
from webapp.annotation.transfer import DEFAULT_HELDOUT_PERCENT, project_get_or_create
from webapp.api.services import token_create
from webapp.audit.models import AuditLog

pytestmark = pytest.mark.django_db

WARNING = "promotion gate cannot compare autorater versions"
EXAMPLES = generate_demo_examples(60, seed=5)  # 120 examples of two pairwise tasks


@pytest.fixture
def users():
    made = demo_users_ensure()
    analyst = get_user_model().objects.create_user("analyst", password="pw")
    return {**made, "analyst": analyst}


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> Client:
    _, secret = token_create(user=user, name="importer", scopes=["admin"])
    return Client(headers={"Authorization": f"Bearer {secret}"})


def _file(tmp_path, examples=EXAMPLES):
    path = tmp_path / "in.jsonl"
    write_jsonl(path, DEMO_TASKS, examples)
    return path


def _lines(examples=EXAMPLES) -> list[dict]:
    tasks = {task.name: task.to_dict() for task in DEMO_TASKS}
    return [{**example.to_dict(), "task": tasks[example.task]} for example in examples]


def _heldout(project: Project) -> int:
    return project.items.filter(split=Item.Split.HELDOUT).count()


def _expected_heldout(percent: int) -> int:
    return sum(is_heldout(example, percent) for example in EXAMPLES)


def test_the_default_share_is_the_demos_and_splits_a_fifth():
    assert DEFAULT_HELDOUT_PERCENT == 20
    assert 0.1 * len(EXAMPLES) < _expected_heldout(20) < 0.3 * len(EXAMPLES)


def test_the_import_page_holds_out_20_percent_unless_told_otherwise(users, tmp_path):
    project = project_get_or_create(name="Page default")
    client = _page(users["admin"])
    page = client.get(reverse("data", args=[project.slug])).content.decode()
    field = re.search(r'<input type="number" name="heldout_percent"[^>]*>', page).group(0)
    default = re.search(r'value="(\d+)"', field).group(1)
    assert default == "20"
    upload = SimpleUploadedFile("in.jsonl", _file(tmp_path).read_bytes())
    response = client.post(
        reverse("data-import", args=[project.slug]), {"file": upload, "heldout_percent": default}
    )
    body = response.content.decode()
    assert f"Imported <strong>{len(EXAMPLES)}</strong> new items" in body
    assert WARNING not in body and 'data-testid="import-warning"' not in body
    assert _heldout(project) == _expected_heldout(20) > 0
    assert not project.items.filter(is_gold=True).exists()

    # A post without the field (an older form, a script) gets the same default.
    other = project_get_or_create(name="Page no field")
    upload = SimpleUploadedFile("in.jsonl", _file(tmp_path).read_bytes())
    client.post(reverse("data-import", args=[other.slug]), {"file": upload})
    assert _heldout(other) == _expected_heldout(20)


def test_the_import_page_warns_when_nothing_is_held_out(users, tmp_path):
    project = project_get_or_create(name="Page zero")
    upload = SimpleUploadedFile("in.jsonl", _file(tmp_path).read_bytes())
    response = _page(users["admin"]).post(
        reverse("data-import", args=[project.slug]), {"file": upload, "heldout_percent": "0"}
    )
    body = response.content.decode()
    assert 'data-testid="import-warning"' in body and WARNING in body
    assert project.items.count() == len(EXAMPLES) and _heldout(project) == 0


def test_the_api_push_holds_out_20_percent_by_default_and_warns_at_0(users):
    api = _api(users["admin"])
    project = project_get_or_create(name="Api default")
    url = f"/api/v1/projects/{project.slug}/items"
    pushed = api.post(url, {"examples": _lines()}, content_type="application/json")
    assert pushed.status_code == 200, pushed.content[:300]
    assert "warning" not in pushed.json() and pushed.json()["created"] == len(EXAMPLES)
    assert _heldout(project) == _expected_heldout(20)

    zero = project_get_or_create(name="Api zero")
    url = f"/api/v1/projects/{zero.slug}/items"
    body = {"examples": _lines(), "heldout_percent": 0}
    pushed = api.post(url, body, content_type="application/json")
    assert pushed.status_code == 200 and WARNING in pushed.json()["warning"]
    assert _heldout(zero) == 0

    ndjson = project_get_or_create(name="Api ndjson")
    url = f"/api/v1/projects/{ndjson.slug}/items"
    text = "".join(json.dumps(line) + "\n" for line in _lines())
    pushed = api.post(url, text, content_type="application/x-ndjson")
    assert pushed.status_code == 200 and "warning" not in pushed.json()
    assert _heldout(ndjson) == _expected_heldout(20)
    again = api.post(f"{url}?heldout_percent=0", text, content_type="application/x-ndjson")
    assert WARNING in again.json()["warning"]


def test_the_command_holds_out_20_percent_by_default_and_warns_on_stderr(tmp_path):
    path = _file(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_examples", str(path), "--project", "Cli default", stdout=out, stderr=err)
    project = Project.objects.get(slug="cli-default")
    assert _heldout(project) == _expected_heldout(20) and err.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_examples",
        str(path),
        "--project",
        "Cli zero",
        "--heldout-percent",
        "0",
        stdout=out,
        stderr=err,
    )
    assert WARNING in err.getvalue() and WARNING not in out.getvalue()
    assert _heldout(Project.objects.get(slug="cli-zero")) == 0
    with pytest.raises(CommandError, match="from 0 to 100"):
        call_command("import_examples", str(path), "--project", "X", "--heldout-percent", "150")


def _assert_gold(project: Project) -> None:
    labels = {example.id: example.label for example in EXAMPLES}
    items = list(project.items.all())
    assert len(items) == len(EXAMPLES)
    assert all(item.is_gold and item.gold_label == labels[item.external_id] for item in items)


def test_a_gold_import_through_the_page_the_command_and_the_api(users, tmp_path):
    page = project_get_or_create(name="Gold page")
    upload = SimpleUploadedFile("in.jsonl", _file(tmp_path).read_bytes())
    response = _page(users["admin"]).post(
        reverse("data-import", args=[page.slug]), {"file": upload, "gold": "on"}
    )
    assert "Imported" in response.content.decode()
    _assert_gold(page)
    assert AuditLog.objects.get(action="items.create").summary["gold"] is True

    call_command("import_examples", str(_file(tmp_path)), "--project", "Gold cli", "--gold")
    _assert_gold(Project.objects.get(slug="gold-cli"))

    api = project_get_or_create(name="Gold api")
    pushed = _api(users["admin"]).post(
        f"/api/v1/projects/{api.slug}/items",
        {"examples": _lines(), "gold": True},
        content_type="application/json",
    )
    assert pushed.status_code == 200, pushed.content[:300]
    _assert_gold(api)


def test_a_gold_import_with_an_unlabelled_line_is_refused_and_writes_nothing(users, tmp_path):
    examples = list(EXAMPLES)
    examples[6] = dataclasses.replace(examples[6], label=None)  # line 7
    path = _file(tmp_path, examples)

    project = project_get_or_create(name="Gold refused")
    upload = SimpleUploadedFile("in.jsonl", path.read_bytes())
    response = _page(users["admin"]).post(
        reverse("data-import", args=[project.slug]), {"file": upload, "gold": "on"}
    )
    body = response.content.decode()
    assert "Nothing was imported" in body and "in.jsonl:7" in body and "needs a label" in body
    assert not project.items.exists()
    assert not TaskDefinition.objects.filter(project=project).exists()

    with pytest.raises(CommandError, match=r"in\.jsonl:7: a gold import needs a label"):
        call_command("import_examples", str(path), "--project", "Gold refused", "--gold")
    assert not project.items.exists()

    refused = _api(users["admin"]).post(
        f"/api/v1/projects/{project.slug}/items",
        {"examples": _lines(examples), "gold": True},
        content_type="application/json",
    )
    assert refused.status_code == 422
    assert "line 7: a gold import needs a label" in refused.json()["error"]["message"]
    assert not project.items.exists()
    assert not AuditLog.objects.filter(action="items.create").exists()

    # Without --gold the same file imports (an unlabelled example is fine for rating).
    call_command("import_examples", str(path), "--project", "Gold refused")
    assert project.items.count() == len(EXAMPLES) and not project.items.filter(is_gold=True)


def test_an_admin_marks_and_unmarks_an_item_gold_on_its_adjudicate_page(users, tmp_path):
    project = project_get_or_create(name="Marking")
    call_command("import_examples", str(_file(tmp_path)), "--project", "Marking")
    item = project.items.order_by("pk").first()
    other = "B" if item.gold_label == "A" else "A"
    admin = _page(users["admin"])
    page_url = reverse("adjudicate-item", args=[project.slug, item.pk])
    gold_url = reverse("item-gold", args=[project.slug, item.pk])
    assert 'data-testid="gold-status">Not gold.' in admin.get(page_url).content.decode()

    response = admin.post(gold_url, {"gold": "on", "label": other})
    assert response.status_code == 302 and response["Location"] == page_url
    item.refresh_from_db()
    assert item.is_gold and item.gold_label == other
    shown = admin.get(page_url).content.decode()
    assert f"Gold, known answer: <strong>{other}</strong>" in shown
    row = AuditLog.objects.get(action="item.gold")
    assert row.user == users["admin"] and row.object_id == str(item.pk)
    assert row.summary["is_gold"] is True and row.summary["label"] == other
    assert row.summary["was_gold"] is False

    response = admin.post(gold_url, {"gold": "off"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert not item.is_gold and item.gold_label == other
    rows = AuditLog.objects.filter(action="item.gold").order_by("pk")
    assert [r.summary["is_gold"] for r in rows] == [True, False]

    refused = admin.post(gold_url, {"gold": "on", "label": "maybe"})
    assert refused.status_code == 400
    assert "is not one of this task&#x27;s labels" in refused.content.decode()
    item.refresh_from_db()
    assert not item.is_gold and AuditLog.objects.filter(action="item.gold").count() == 2


def test_only_admins_mark_gold(users):
    project = demo_project_ensure(n_per_task=2)
    project.raters.add(users["analyst"], through_defaults={"role": "analyst"})
    project.items.update(is_gold=False)
    item = project.items.order_by("pk").first()
    gold_url = reverse("item-gold", args=[project.slug, item.pk])
    for role in ("rater", "analyst"):
        response = _page(users[role]).post(gold_url, {"gold": "on", "label": item.gold_label})
        assert response.status_code == 403, role
    item.refresh_from_db()
    assert not item.is_gold and not AuditLog.objects.filter(action="item.gold").exists()
    page = _page(users["analyst"]).get(reverse("adjudicate-item", args=[project.slug, item.pk]))
    assert page.status_code == 200 and 'data-testid="gold-marking"' not in page.content.decode()
