"""The foundation in the app (webapp/retraining/foundation.py): building and registering it,
the management command, the snapshot that folds its tasks into a project's, where a run
starts, and the settings form's base choices and the page's foundation sentence."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import read_jsonl, write_jsonl
from tests.integration.test_foundation_loop import TEAM_TASK, team_project
from webapp.retraining.forms import TrainingSettingsForm
from webapp.retraining.foundation import (
    foundation_build,
    foundation_current,
    run_start,
    run_weights,
)
from webapp.retraining.models import Foundation, TrainingSettings
from webapp.retraining.services import training_settings_for
from webapp.retraining.snapshots import dataset_snapshot_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_folder(tmp_path):
    folder = tmp_path / "public"
    folder.mkdir()
    write_jsonl(folder / "demo.jsonl", DEMO_TASKS, generate_demo_examples(40, seed=2))
    return folder


def test_no_foundation_configured_is_said_clearly(settings):
    settings.EMBER_FOUNDATION_DATA = ""
    with pytest.raises(ValueError, match="EMBER_FOUNDATION_DATA"):
        foundation_build()
    project = team_project(n=8)
    form = TrainingSettingsForm(instance=training_settings_for(project))
    assert form.fields["base"].help_text.startswith("No foundation")
    # the foundation as base without a foundation: from scratch, as before
    assert run_start(project, training_settings_for(project)).kind == "scratch"


def test_build_registers_once_and_the_command_reports_it(settings, tmp_path, data_folder):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    first = foundation_build(folder=data_folder)
    assert foundation_build(folder=data_folder).pk == first.pk
    assert first.project.slug == "foundation"
    assert set(first.weights) == {t.name for t in DEMO_TASKS}
    assert sum(first.heldout_counts.values()) > 0
    out = io.StringIO()
    call_command("ember_foundation", "--data", str(data_folder), "--no-train", stdout=out)
    assert first.sha256[:12] in out.getvalue() and Foundation.objects.count() == 1
    with pytest.raises(CommandError, match="no such directory"):
        call_command("ember_foundation", "--data", str(tmp_path / "absent"), "--no-train")
    project = team_project(n=8)
    form = TrainingSettingsForm(instance=training_settings_for(project))
    assert form.fields["base"].help_text.startswith(f"Foundation {first.sha256[:12]}")


def test_snapshot_folds_the_foundation_in_and_weights_give_the_project_its_share(
    settings, tmp_path, data_folder
):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    foundation = foundation_build(folder=data_folder)
    project = team_project(n=20)
    snapshot = dataset_snapshot_export(
        project=project, directory=tmp_path / "snap", foundation_dir=foundation.directory
    )
    tasks, examples = read_jsonl(snapshot.path)
    assert set(tasks) == {TEAM_TASK.name, *foundation.weights}
    assert snapshot.per_task[TEAM_TASK.name] == 15  # the 15 training items (5 held out)
    for name, count in foundation.train_counts.items():
        assert snapshot.per_task[name] == count
    project_settings = training_settings_for(project)
    project_settings.project_share = 0.25
    weights = run_weights(project_settings, foundation, snapshot.per_task, {TEAM_TASK.name})
    assert weights[TEAM_TASK.name] == pytest.approx(0.25)
    assert sum(weights.values()) == pytest.approx(1.0)
    # no live foundation version yet: the first run trains from scratch on the mixture
    assert run_start(project, project_settings).kind == "scratch"
    assert foundation_current() == foundation


def test_form_checks_the_base_and_the_share(tmp_path):
    project = team_project(n=8)
    instance = training_settings_for(project)

    def errors(**values):
        data = {
            "variant": "flame",
            "mixture_weights": "{}",
            "config_overrides": "{}",
            "gate_agreement_tolerance": 0,
            "gate_bias_tolerance": 0.05,
            "gate_foundation_tolerance": 0.02,
            "base": "foundation",
            "base_path": "",
            "project_share": 0.5,
            **values,
        }
        form = TrainingSettingsForm(data, instance=instance)
        form.is_valid()
        return form.errors

    assert not errors()
    assert "project_share" in errors(project_share=1.5)
    assert "base_version" in errors(base=TrainingSettings.Base.VERSION)
    assert "no such directory" in errors(base="path", base_path=str(tmp_path / "x"))["base_path"][0]
    (tmp_path / "empty").mkdir()
    assert (
        "not a checkpoint" in errors(base="path", base_path=str(tmp_path / "empty"))["base_path"][0]
    )
    assert not errors(base="scratch")


def test_settings_pick_a_base_version_and_audit_it(tmp_path):
    from webapp.autoraters.models import AutoraterVersion
    from webapp.retraining.services import training_settings_update

    project = team_project(n=8)
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    version = AutoraterVersion.objects.create(
        project=project, number=1, checkpoint_dir=str(checkpoint), snapshot_hash="x"
    )
    found = training_settings_update(
        project=project,
        values={"base": TrainingSettings.Base.VERSION, "base_version": version},
    )
    start = run_start(project, found)
    assert start.kind == "version" and start.checkpoint == str(checkpoint)
    from webapp.audit.models import AuditLog

    entry = AuditLog.objects.filter(action="training_settings.update").latest("pk")
    assert entry.summary["changed"]["base_version"] == [None, version.pk]


def test_versions_table_shows_the_start_and_the_foundation(client):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from webapp.annotation.demo import demo_project_ensure
    from webapp.autoraters.models import AutoraterVersion

    project = demo_project_ensure(n_per_task=3)
    AutoraterVersion.objects.create(
        project=project,
        number=1,
        checkpoint_dir="/nonexistent",
        snapshot_hash="f" * 64,
        config={
            "start": {
                "kind": "foundation",
                "version": 3,
                "project": "foundation",
                "tokenizer_sha256": "ab" * 32,
            },
            "mixture": {"foundation": {"sha256": "cd" * 32, "tasks": {"t": 0.5}}},
        },
        mixture_weights={"t": 0.5, "<b>x</b>": 0.5},
    )
    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(reverse("autorater", args=[project.slug])).content.decode()
    assert "from foundation v3 of foundation, its tokenizer" in page
    assert "abababab" in page and "cdcdcdcdcdcd" in page
    assert "<b>x</b>" not in page  # task names are escaped


def test_a_start_whose_tokenizer_cannot_score_a_task_label_is_refused_with_what_to_do(tmp_path):
    from judging.checkpoint import write_tokenizer
    from judging.tokenizer import train_tokenizer
    from tests.factories import classification_task
    from webapp.retraining.foundation import Start, start_labels_check

    tokenizer = train_tokenizer(["a few words of text"] * 4, 300, labels=["A", "B", "yes", "no"])
    write_tokenizer(tmp_path / "tokenizer.json", tokenizer)
    start = Start(checkpoint=str(tmp_path), kind="path")
    start_labels_check(start, [classification_task("fits", labels=("yes", "no"))])
    with pytest.raises(ValueError) as refused:
        start_labels_check(start, [classification_task("new", labels=("yes", "zzqx", "qqzx"))])
    message = str(refused.value)
    assert "Task 'new': labels 'zzqx', 'qqzx' are not one token" in message
    assert f"(its start: path, {tmp_path})" in message
    assert "yes, no" in message and "'From scratch'" in message
    start_labels_check(Start(), [classification_task("new", labels=("zzqx",))])  # from scratch
