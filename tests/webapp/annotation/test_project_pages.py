"""Project and rubric pages: create/edit a project, a rubric per task type with the rater's
screen as preview, versioning of rubrics with labels, and the upload with its column mapping."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from judging.task_format import Example
from tests.factories import classification_task, pairwise_task
from webapp.annotation.models import Annotation, Item, Project, TaskDefinition
from webapp.annotation.project_services import rubric_create, rubric_update
from webapp.annotation.rater_services import annotation_submit
from webapp.annotation.services import items_create
from webapp.audit.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client):
    user = get_user_model().objects.create_superuser("boss", password="pw")
    client.force_login(user)
    return user


@pytest.fixture
def project(admin):
    return Project.objects.create(name="Team", slug="team")


RUBRICS = {
    "pairwise": {"context_fields": "question", "allow_tie": "on"},
    "pointwise": {"context_fields": "text", "scale_kind": "labelled", "labels": "1\n2\n3"},
    "scale": {
        "type": "pointwise",
        "context_fields": "text",
        "scale_kind": "numeric",
        "scale_low": "0",
        "scale_high": "100",
    },
    "classification": {"context_fields": "text", "labels": "safe\nunsafe"},
    "open_ended": {"context_fields": "text"},
}


def _rubric(name: str, **fields) -> dict:
    return {
        "name": name,
        "type": name,
        "title": f"Judge {name}",
        "guidelines": "Read <b>both</b> first.",
        **fields,
    }


def test_admin_creates_and_edits_a_project_audited(client, admin):
    response = client.post(
        reverse("project-new"),
        {
            "name": "Support replies",
            "description": "Our bot",
            "raters_per_item": 2,
            "routing": "uncertainty_first",
            "heldout_percent": 10,
        },
    )
    project = Project.objects.get(slug="support-replies")
    assert response.status_code == 302 and response.url == f"/p/{project.slug}/settings/"
    assert (project.raters_per_item, project.routing, project.heldout_percent) == (
        2,
        "uncertainty_first",
        10,
    )
    assert project.reveal_autorater_before_submit  # the blind-first box was left unticked
    assert AuditLog.objects.filter(action="project.create", object_id=str(project.pk)).exists()
    response = client.post(
        reverse("project-settings", args=[project.slug]),
        {
            "name": "Support replies",
            "raters_per_item": 3,
            "blind_first": "on",
            "routing": "sequential",
            "heldout_percent": 25,
        },
    )
    assert response.status_code == 200
    project.refresh_from_db()
    assert (project.raters_per_item, project.heldout_percent) == (3, 25)
    assert not project.reveal_autorater_before_submit
    entry = AuditLog.objects.get(action="project.update")
    assert entry.summary["raters_per_item"] == [2, 3] and entry.summary["description"] == [
        "Our bot",
        "",
    ]


def test_project_form_errors_and_non_admins(client, admin, project):
    response = client.post(
        reverse("project-new"),
        {"name": "Team", "raters_per_item": 0, "routing": "sequential", "heldout_percent": 101},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "taken by another project" in body
    assert 'data-testid="error-raters_per_item"' in body
    assert 'data-testid="error-heldout_percent"' in body
    rater = get_user_model().objects.create_user("ann", password="pw")
    client.force_login(rater)
    for url in (
        reverse("project-new"),
        reverse("project-settings", args=[project.slug]),
        reverse("rubric-new", args=[project.slug]),
        reverse("upload", args=[project.slug]),
    ):
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("name", list(RUBRICS))
def test_a_rubric_per_task_type_with_a_preview(client, project, name):
    fields = _rubric(name, **RUBRICS[name])
    preview = client.post(reverse("rubric-preview", args=[project.slug]), fields)
    body = preview.content.decode()
    assert preview.status_code == 200 and 'id="item-panel"' in body
    kind = {"pointwise": "pointwise", "scale": "scale"}.get(name, fields["type"])
    assert f'data-kind="{kind}"' in body
    assert "Read &lt;b&gt;both&lt;/b&gt; first." in body  # the guidelines, escaped
    response = client.post(reverse("rubric-new", args=[project.slug]), fields)
    assert response.status_code == 302
    definition = TaskDefinition.objects.get(project=project, name=name)
    expected = {
        "pairwise": ["A", "B", "tie"],
        "pointwise": ["1", "2", "3"],
        "classification": ["safe", "unsafe"],
    }.get(name, [])
    assert definition.labels == expected
    assert definition.scale == ([0.0, 100.0] if name == "scale" else None)
    assert AuditLog.objects.filter(action="task.create", object_id=str(definition.pk)).exists()


def test_rubric_errors_are_named(client, project):
    fields = _rubric("classification", context_fields="text", labels="")
    response = client.post(reverse("rubric-new", args=[project.slug]), fields)
    assert 'data-testid="error-labels"' in response.content.decode()
    preview = client.post(reverse("rubric-preview", args=[project.slug]), fields)
    assert "needs its labels" in preview.content.decode()
    assert not TaskDefinition.objects.exists()


def test_editing_a_labelled_rubric_makes_a_new_version(admin, project):
    definition = rubric_create(project=project, task=pairwise_task("pairs"), actor=admin)
    items_create(
        project=project,
        definition=definition,
        examples=[
            Example(
                task="pairs",
                id=str(i),
                context={"question": "q", "response A": "a", "response B": str(i)},
            )
            for i in range(2)
        ],
    )
    # Without labels an edit is in place, and the items' FLAMe rendering follows it.
    saved = rubric_update(
        definition=definition, task=pairwise_task("pairs", title="Which is kinder?"), actor=admin
    )
    assert not saved.new_version and saved.definition.pk == definition.pk
    assert all("title: Which is kinder?" in i.flame_prompt for i in Item.objects.all())
    item = Item.objects.first()
    annotation_submit(item=item, annotator=admin, label="tie", submission_key="k1")
    saved = rubric_update(
        definition=definition,
        task=pairwise_task("pairs", labels=("A", "B"), title="Which is better?"),
        actor=admin,
    )
    assert saved.new_version
    new, old = saved.definition, TaskDefinition.objects.get(pk=definition.pk)
    assert (new.name, new.version, new.previous_id, new.labels) == (
        "pairs-v2",
        2,
        old.pk,
        ["A", "B"],
    )
    assert old.retired and old.labels == ["A", "B", "tie"]  # what "tie" meant is kept
    assert Item.objects.filter(task=old).count() == 2 and not new.items.exists()
    assert Annotation.objects.get(item=item).item.task_id == old.pk
    assert AuditLog.objects.filter(action="task.version", object_id=str(new.pk)).exists()
    third = rubric_update(definition=new, task=pairwise_task("pairs"), actor=admin)
    assert not third.new_version  # v2 has no labels yet


def test_an_import_naming_a_retired_rubric_is_refused_with_its_current_version(
    admin, project, tmp_path
):
    import json

    from django.core.exceptions import ValidationError

    from webapp.annotation.transfer import examples_import

    definition = rubric_create(project=project, task=pairwise_task("pairs"), actor=admin)
    context = {"question": "q", "response A": "a", "response B": "b"}
    items_create(
        project=project,
        definition=definition,
        examples=[Example(task="pairs", id="1", context=context)],
    )
    annotation_submit(item=Item.objects.get(), annotator=admin, label="A", submission_key="k")
    rubric_update(definition=definition, task=pairwise_task("pairs", title="New"), actor=admin)
    path = tmp_path / "more.jsonl"
    line = {"task": pairwise_task("pairs").to_dict(), "id": "2", "context": context}
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(ValidationError) as refused:
        examples_import(project=project, path=path)
    message = refused.value.messages[0]
    assert f"{path}:1" in message and "'pairs'" in message and "is retired" in message
    assert "current version 'pairs-v2'" in message
    assert Item.objects.count() == 1  # nothing written


def test_editing_through_the_page_says_a_version_was_made(client, admin, project):
    definition = rubric_create(project=project, task=classification_task("safety"), actor=admin)
    items_create(
        project=project,
        definition=definition,
        examples=[Example(task="safety", id="1", context={"text": "hi"}, label="safe")],
    )
    fields = _rubric("classification", context_fields="text", labels="safe\nunsafe\nunsure")
    response = client.post(reverse("rubric-edit", args=[project.slug, definition.pk]), fields)
    new = TaskDefinition.objects.get(name="safety-v2")
    assert response.status_code == 302 and f"/rubrics/{new.pk}/?versioned=1" in response.url
    page = client.get(response.url).content.decode()
    assert 'data-testid="rubric-versioned"' in page and "safety-v2" in page
    assert "hi" in page  # the preview shows a real item of the rubric (the old version's)


CSV = (
    "prompt,first,second,winner,uid\n"
    "What is 2+2?,4,5,A,q1\n"
    '"Say hi, please",hello,"<script>x</script>",B,q2\n'
    "Capital of France?,Paris,Lyon,A,q3\n"
)


def _upload(client, project, definition, text: str, name: str = "rows.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("upload", args=[project.slug]),
        {"task": definition.pk, "file": SimpleUploadedFile(name, text.encode())},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response.url


MAPPING = {
    "map:question": "prompt",
    "map:response A": "first",
    "map:response B": "second",
    "map_label": "winner",
    "map_id": "uid",
}


def test_csv_upload_through_the_mapping_step(client, admin, project):
    definition = rubric_create(project=project, task=pairwise_task("pairs"), actor=admin)
    url = _upload(client, project, definition, CSV)
    page = client.get(url).content.decode()
    assert "Say hi, please" in page and "&lt;script&gt;x&lt;/script&gt;" in page  # preview
    assert "<script>x" not in page
    response = client.post(
        url, {"task": definition.pk, **MAPPING, "gold": "on", "heldout_percent": "0"}
    )
    assert 'data-testid="upload-result"' in response.content.decode()
    items = Item.objects.filter(task=definition).order_by("external_id")
    assert [i.external_id for i in items] == ["q1", "q2", "q3"]
    assert [i.gold_label for i in items] == ["A", "B", "A"] and all(i.is_gold for i in items)
    assert items[1].context["response B"] == "<script>x</script>"
    assert AuditLog.objects.filter(action="items.create").count() == 1


def test_bad_rows_are_listed_and_nothing_is_written(client, admin, project):
    definition = rubric_create(project=project, task=pairwise_task("pairs"), actor=admin)
    bad = CSV + "Empty?,,x,A,q4\nWho?,a,b,C,q5\n"
    url = _upload(client, project, definition, bad)
    response = client.post(url, {"task": definition.pk, **MAPPING, "heldout_percent": "20"})
    body = response.content.decode()
    assert 'data-testid="upload-errors"' in body
    assert "<td>5</td><td>response A</td><td>column &#x27;first&#x27; is empty</td>" in body
    assert "<td>6</td><td>label</td>" in body and "not in" in body
    assert not Item.objects.exists()
    # An unmapped context field is named before any row is read.
    response = client.post(url, {"task": definition.pk, **MAPPING, "map:question": ""})
    assert "<td>all</td><td>question</td>" in response.content.decode()


def test_pasted_tab_separated_rows_and_jsonl(client, admin, project):
    definition = rubric_create(project=project, task=classification_task("safety"), actor=admin)
    response = client.post(
        reverse("upload", args=[project.slug]),
        {"task": definition.pk, "pasted": "text\tlabel\nhello\tsafe\nboom\tunsafe\n"},
    )
    page = client.get(response.url).content.decode()
    assert 'name="map:text"' in page and '<option value="text" selected>' in page
    client.post(response.url, {"task": definition.pk, "map:text": "text", "map_label": "label"})
    assert sorted(Item.objects.values_list("gold_label", flat=True)) == ["safe", "unsafe"]
    jsonl = '{"id": "j1", "context": {"text": "a turn"}, "label": "safe"}\n'
    url = _upload(client, project, definition, jsonl, name="rows.jsonl")
    assert '<option value="id" selected>' in client.get(url).content.decode()
    fields = {"task": definition.pk, "map:text": "text", "map_label": "label", "map_id": "id"}
    assert 'data-testid="upload-result"' in client.post(url, fields).content.decode()
    assert Item.objects.filter(external_id="j1", task=definition).exists()
