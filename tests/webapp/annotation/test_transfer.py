import json

import pytest
from django.core.management import CommandError, call_command

from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    Example,
    FormatError,
    Task,
    read_jsonl,
    write_jsonl,
)
from tests.factories import pairwise_task, pointwise_task
from webapp.annotation.models import Item, Project
from webapp.annotation.transfer import (
    examples_export_csv,
    examples_export_jsonl,
    examples_import,
    preference_pairs,
    project_get_or_create,
)

pytestmark = pytest.mark.django_db

PAIRWISE = pairwise_task(
    "chat/preference",
    prompt_field="conversation",
    title="Which response is more helpful?",
    description="Answer A, B or tie.",
)
POINTWISE = pointwise_task(
    "summary/quality",
    scale=(0, 100),
    context_fields=("document", "summary"),
    title="Rate the summary",
    description="0 to 100.",
)
TURNS = [{"role": "user", "content": "Hi <b>there</b>"}, {"role": "assistant", "content": "Hello"}]


def _examples() -> list[Example]:
    return [
        Example(
            task=PAIRWISE.name,
            id="p1",
            label="A",
            context={"conversation": TURNS, RESPONSE_A: "good", RESPONSE_B: "bad"},
        ),
        Example(
            task=PAIRWISE.name,
            id="p2",
            label="tie",
            label_distribution={"tie": 2, "A": 1},
            context={"conversation": "q2", RESPONSE_A: "x", RESPONSE_B: "y"},
            provenance={"source": "test", "rater": 7},
        ),
        Example(
            task=PAIRWISE.name,
            id="p3",
            label="B",
            reference="the reference",
            context={"conversation": "q3", RESPONSE_A: "worse", RESPONSE_B: "better"},
        ),
        Example(
            task=POINTWISE.name,
            id="s1",
            label="72.5",
            context={"document": "doc", "summary": "sum"},
        ),
    ]


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.jsonl"
    write_jsonl(path, [PAIRWISE, POINTWISE], _examples())
    return path


def test_import_is_idempotent(source):
    project = project_get_or_create(name="Imports")
    first = examples_import(project=project, path=source)
    again = examples_import(project=project, path=source)
    assert (first.created, first.skipped) == (4, 0)
    assert (again.created, again.skipped) == (0, 4)
    assert Item.objects.filter(project=project).count() == 4
    item = Item.objects.get(external_id="p1")
    assert item.context["conversation"] == TURNS
    assert "conversation: \nuser: Hi <b>there</b>\nassistant: Hello" in item.flame_prompt


def test_a_malformed_line_imports_nothing_and_names_file_line_and_field(source):
    lines = source.read_text().splitlines()
    broken = json.loads(lines[2])
    del broken["context"][RESPONSE_B]
    lines[2] = json.dumps(broken)
    source.write_text("\n".join(lines) + "\n")
    project = project_get_or_create(name="Imports")
    with pytest.raises(FormatError) as error:
        examples_import(project=project, path=source)
    assert f"{source}:3:" in str(error.value)
    assert "context lacks field 'response B'" in str(error.value)
    assert not Item.objects.exists()
    assert not project.tasks.exists()


def test_a_label_outside_the_scale_is_rejected(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_jsonl(
        path,
        [POINTWISE],
        [
            Example(
                task=POINTWISE.name, id="s", label="101", context={"document": "d", "summary": "s"}
            )
        ],
    )
    with pytest.raises(FormatError, match=r"bad.jsonl:1: .*outside scale \[0.0, 100.0\]"):
        examples_import(project=project_get_or_create(name="X"), path=path)


def test_a_task_redefined_differently_is_a_conflict(source, tmp_path):
    project = project_get_or_create(name="Imports")
    examples_import(project=project, path=source)
    changed = tmp_path / "changed.jsonl"
    other = Task(**{**PAIRWISE.to_dict(), "title": "Another title", "scale": None})
    write_jsonl(changed, [other], [_examples()[0]])
    with pytest.raises(Exception, match="already exists in project 'Imports'"):
        examples_import(project=project, path=changed)


def test_export_then_reimport_is_lossless(source, tmp_path):
    project = project_get_or_create(name="Round trip")
    examples_import(project=project, path=source)
    exported = tmp_path / "out.jsonl"
    assert examples_export_jsonl(project=project, path=exported) == {
        PAIRWISE.name: 3,
        POINTWISE.name: 1,
    }
    tasks, examples = read_jsonl(exported)
    assert tasks == {PAIRWISE.name: PAIRWISE, POINTWISE.name: POINTWISE}
    assert examples == _examples()
    copy = project_get_or_create(name="Copy")
    assert examples_import(project=copy, path=exported).created == 4
    again = tmp_path / "again.jsonl"
    examples_export_jsonl(project=copy, path=again)
    assert again.read_text() == exported.read_text()


def test_preference_pairs_skip_ties_and_orient_chosen(source):
    project = project_get_or_create(name="Pairs")
    examples_import(project=project, path=source)
    pairs = list(preference_pairs(project))
    assert [(p["id"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("p1", "good", "bad"),
        ("p3", "better", "worse"),
    ]
    assert pairs[0]["prompt"] == "user: Hi <b>there</b>\nassistant: Hello"


def test_csv_export_has_a_row_per_item(source, tmp_path):
    project = project_get_or_create(name="Csv")
    examples_import(project=project, path=source)
    out = tmp_path / "out.csv"
    assert examples_export_csv(project=project, path=out) == 4
    header = out.read_text().splitlines()[0]
    assert header == (
        "id,task,conversation,response A,response B,document,summary,reference,label,"
        "label_distribution"
    )


def test_commands_import_and_export(source, tmp_path, capsys):
    call_command("import_examples", str(source), "--project", "Cli project")
    assert "4 new items" in capsys.readouterr().out
    project = Project.objects.get(slug="cli-project")
    out = tmp_path / "pairs.jsonl"
    call_command("export_examples", "--project", project.slug, "--format", "pairs", "-o", str(out))
    assert len(out.read_text().splitlines()) == 2
    source.write_text(source.read_text() + "{not json\n")
    with pytest.raises(CommandError, match=r"nothing imported: .*in.jsonl:5: "):
        call_command("import_examples", str(source), "--project", "Other")
    assert not Project.objects.get(slug="other").items.exists()


def test_admin_imports_through_the_web_and_downloads_exports(client, source):
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin = get_user_model().objects.create_superuser("boss", password="pw")
    client.force_login(admin)
    project = project_get_or_create(name="Web")
    upload = SimpleUploadedFile("in.jsonl", source.read_bytes())
    response = client.post(f"/p/{project.slug}/data/import/", {"file": upload})
    assert "Imported <strong>4</strong> new items" in response.content.decode()
    download = client.get(f"/p/{project.slug}/data/export/jsonl/")
    assert download["Content-Disposition"] == 'attachment; filename="web.jsonl"'
    assert len(b"".join(download.streaming_content).splitlines()) == 4
    bad = SimpleUploadedFile("bad.jsonl", b'{"task": "nope"}\n')
    body = client.post(f"/p/{project.slug}/data/import/", {"file": bad}).content.decode()
    assert "Nothing was imported. bad.jsonl:1: field &#x27;task&#x27;: unknown task" in body


def test_raters_cannot_import(client, source):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("r", password="pw"))
    project = project_get_or_create(name="Web")
    assert client.get(f"/p/{project.slug}/data/").status_code == 403
    assert client.get(f"/p/{project.slug}/data/export/jsonl/").status_code == 403


@pytest.mark.parametrize("dataset", ["dices", "qa-feedback", "usr-topical-chat"])
def test_real_dataset_export_then_reimport_is_lossless(dataset, tmp_path):
    from pathlib import Path

    from judging.converters import convert
    from judging.task_format import write_jsonl_atomic

    folder = Path(__file__).resolve().parents[3].parent / "shared" / "data" / dataset
    if not folder.exists():
        pytest.skip("../shared/data is not present")
    tasks, examples = convert(dataset, [folder])
    converted = tmp_path / "converted.jsonl"
    write_jsonl_atomic(converted, tasks.values(), examples)
    project = project_get_or_create(name=dataset)
    result = examples_import(project=project, path=converted)
    assert result.skipped == 0
    exported = tmp_path / "exported.jsonl"
    examples_export_jsonl(project=project, path=exported)
    original_tasks, original = read_jsonl(converted)
    round_tasks, round_trip = read_jsonl(exported)
    assert round_tasks == original_tasks
    assert round_trip == original


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("provenance", "field 'provenance' must be an object"),
        ("long name", "task field 'name' is 250 characters long; at most 200"),
        ("long title", "task field 'title' is 600 characters long; at most 500"),
        (
            "NUL in text",
            "NUL characters or unpaired surrogates (PostgreSQL cannot store them): "
            "context.question",
        ),
        ("NUL in a key", "context (a key)"),
    ],
)
def test_what_the_database_cannot_store_is_refused_by_line_and_field(tmp_path, case, said):
    """The same file through the data page, the command or the API: a clear refusal naming the
    line, not a database error, and nothing written."""
    import json

    from django.core.exceptions import ValidationError

    from judging.task_format import FormatError
    from tests.factories import pairwise_task
    from webapp.annotation.demo import demo_project_ensure
    from webapp.annotation.models import Item
    from webapp.annotation.transfer import examples_import

    project = demo_project_ensure(n_per_task=1)
    before = Item.objects.count()
    context = {"question": "q", "response A": "a", "response B": "b"}
    good = {"task": pairwise_task("pairs").to_dict(), "id": "1", "context": context}
    bad = json.loads(json.dumps(good)) | {"id": "2"}
    if case == "provenance":
        bad["provenance"] = 5
    elif case == "long name":
        bad["task"]["name"] = "n" * 250
    elif case == "long title":
        bad["task"]["title"] = "t" * 600
    elif case == "NUL in text":
        bad["context"]["question"] = "a\x00b"
    else:
        bad["context"]["extra\x00"] = "x"
    path = tmp_path / "upload.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises((ValidationError, FormatError)) as refused:
        examples_import(project=project, path=path)
    message = "; ".join(getattr(refused.value, "messages", [str(refused.value)]))
    assert f"{path}:2" in message and said in message
    assert Item.objects.count() == before


def test_a_task_redefined_differently_later_in_the_file_is_refused(tmp_path):
    import json

    from django.core.exceptions import ValidationError

    from tests.factories import pairwise_task
    from webapp.annotation.demo import demo_project_ensure
    from webapp.annotation.models import Item
    from webapp.annotation.transfer import examples_import

    project = demo_project_ensure(n_per_task=1)
    before = Item.objects.count()
    context = {"question": "q", "response A": "a", "response B": "b"}
    first = {"task": pairwise_task("pairs").to_dict(), "id": "1", "context": context}
    named = {"task": "pairs", "id": "2", "context": context}  # the same task by name: fine
    other = {
        "task": pairwise_task("pairs", title="Another").to_dict(),
        "id": "3",
        "context": context,
    }
    path = tmp_path / "upload.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in (first, named, other)))
    with pytest.raises(ValidationError) as refused:
        examples_import(project=project, path=path)
    assert f"{path}:3: task 'pairs' already exists" in refused.value.messages[0]
    assert Item.objects.count() == before
