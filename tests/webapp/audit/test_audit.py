"""Every change goes through one service that also writes the audit log: the web pages and the
API call the same service, so both are audited under the same action name (the API adds its
token; both record the client address). Refused or failed changes write nothing."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import write_jsonl
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Item
from webapp.api.services import token_create
from webapp.audit.models import AuditLog
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun, TrainingSettings
from webapp.retraining.services import training_run_bootstrap

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return demo_project_ensure(n_per_task=3)


@pytest.fixture
def users(project):
    model = get_user_model()
    analyst = model.objects.create_user("analyst", password="pw")
    project.raters.add(analyst, through_defaults={"role": "analyst"})
    return {
        "admin": model.objects.get(username="admin"),
        "rater": model.objects.get(username="rater"),
        "analyst": analyst,
    }


def _page(users, role: str) -> Client:
    client = Client()
    client.force_login(users[role])
    return client


def _api(users, role: str = "admin") -> tuple[Client, object]:
    token, secret = token_create(user=users[role], name=f"{role}-api", scopes=["admin"])
    return Client(headers={"Authorization": f"Bearer {secret}"}), token


def _version(project, number: int, status: str) -> AutoraterVersion:
    return AutoraterVersion.objects.create(
        project=project,
        number=number,
        status=status,
        checkpoint_dir="/nonexistent",
        snapshot_hash="f" * 64,
        promoted_at=timezone.now() if status != "candidate" else None,
    )


def _only_row(action: str) -> AuditLog:
    rows = list(AuditLog.objects.filter(action=action))
    assert len(rows) == 1, [(row.action, row.username) for row in AuditLog.objects.all()]
    return rows[0]


def _from_page(row: AuditLog, user, obj) -> None:
    assert (row.user, row.username) == (user, user.username)
    assert (row.object_type, row.object_id) == (type(obj).__name__, str(obj.pk))
    assert row.token is None and row.address == "127.0.0.1"


def _from_api(row: AuditLog, user, obj, token) -> None:
    assert (row.user, row.username, row.token) == (user, user.username, token)
    assert (row.object_type, row.object_id) == (type(obj).__name__, str(obj.pk))
    assert row.address == "127.0.0.1"


def _interchange(tmp_path, seed: int):
    path = tmp_path / f"upload-{seed}.jsonl"
    write_jsonl(path, DEMO_TASKS, generate_demo_examples(2, seed=seed))
    return path


# --- the web pages --------------------------------------------------------------------------


def test_token_page_create_and_revoke(users):
    from webapp.api.models import ApiToken

    client = _page(users, "analyst")
    response = client.post(reverse("api-token-create"), {"name": "ci", "scopes": ["read"]})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=users["analyst"])
    _from_page(_only_row("token.create"), users["analyst"], token)
    client.post(reverse("api-token-revoke", args=[token.pk]))
    _from_page(_only_row("token.revoke"), users["analyst"], token)


def test_promote_page(project, users):
    version = _version(project, 1, "candidate")
    response = _page(users, "admin").post(reverse("version-promote", args=[version.pk]))
    assert response.status_code == 200
    row = _only_row("version.promote")
    _from_page(row, users["admin"], version)
    assert row.summary == {"project": project.slug, "number": 1}


def test_rollback_page(project, users):
    old = _version(project, 1, "retired")
    live = _version(project, 2, "promoted")
    response = _page(users, "admin").post(reverse("version-rollback", args=[project.slug]))
    assert response.status_code == 200
    row = _only_row("version.rollback")
    _from_page(row, users["admin"], old)
    assert row.summary == {"project": project.slug, "number": 1, "from": live.number}
    # Rolling back is one change: no second "version.promote" row.
    assert not AuditLog.objects.filter(action="version.promote").exists()


def test_retrain_page(project, users):
    response = _page(users, "admin").post(
        reverse("retrain", args=[project.slug]), {"variant": "rm"}
    )
    assert response.status_code == 200
    run = TrainingRun.objects.get()
    assert run.requested_by == users["admin"] and run.variant == "rm"
    row = _only_row("job.start")
    _from_page(row, users["admin"], run)
    assert row.summary == {
        "project": project.slug,
        "trigger": "manual",
        "variant": "rm",
        "created": True,
    }


def test_cancel_page(project, users):
    run = TrainingRun.objects.create(project=project, trigger="manual", preset="smoke")
    response = _page(users, "admin").post(reverse("run-cancel", args=[run.pk]))
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == "cancelled" and run.phase == TrainingRun.Phase.CANCELLED
    row = _only_row("job.cancel")
    _from_page(row, users["admin"], run)
    assert row.summary == {"project": project.slug, "status": "cancelled"}


def test_import_page(project, users, tmp_path):
    path = _interchange(tmp_path, seed=11)
    before = Item.objects.count()
    upload = SimpleUploadedFile("upload.jsonl", path.read_bytes())
    response = _page(users, "admin").post(
        reverse("data-import", args=[project.slug]), {"file": upload, "heldout_percent": "0"}
    )
    assert response.status_code == 200 and "Imported" in response.content.decode()
    created = Item.objects.count() - before
    row = _only_row("items.create")
    _from_page(row, users["admin"], project)
    assert row.summary["created"] == created > 0
    assert row.summary["created"] + row.summary["skipped"] == sum(row.summary["per_task"].values())


def test_a_rejected_import_is_not_audited(project, users):
    upload = SimpleUploadedFile("bad.jsonl", b'{"task": "nope"}\n')
    response = _page(users, "admin").post(
        reverse("data-import", args=[project.slug]), {"file": upload}
    )
    assert "Nothing was imported" in response.content.decode()
    assert not AuditLog.objects.exists()


def test_adjudicate_page(project, users):
    item = Item.objects.filter(project=project).first()
    previous = item.gold_label
    label = "B" if previous == "A" else "A"
    url = reverse("adjudicate-item", args=[project.slug, item.pk])
    response = _page(users, "analyst").post(url, {"label": label})
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.gold_label == label and item.adjudicated_by == users["analyst"]
    row = _only_row("item.adjudicate")
    _from_page(row, users["analyst"], item)
    assert row.summary == {"project": project.slug, "label": label, "previous": previous}


def test_an_invalid_adjudication_is_not_audited(project, users):
    item = Item.objects.filter(project=project).first()
    url = reverse("adjudicate-item", args=[project.slug, item.pk])
    _page(users, "analyst").post(url, {"label": "not-a-label"})
    assert not AuditLog.objects.exists()


def test_training_settings_page(project, users):
    url = reverse("training-settings", args=[project.slug])
    form = {
        "variant": "opt-rm",
        "mixture_weights": '{"demo_arithmetic": 2}',
        "config_overrides": "{}",
        "gate_agreement_tolerance": "0",
        "gate_bias_tolerance": "0.05",
    }
    assert _page(users, "admin").post(url, form).status_code == 200
    saved = TrainingSettings.objects.get(project=project)
    assert saved.variant == "opt-rm" and saved.mixture_weights == {"demo_arithmetic": 2}
    row = _only_row("training_settings.update")
    _from_page(row, users["admin"], saved)
    assert row.summary == {
        "project": project.slug,
        "changed": {
            "variant": ["flame", "opt-rm"],
            "mixture_weights": [{}, {"demo_arithmetic": 2}],
        },
    }
    # Invalid settings save nothing and audit nothing.
    bad = _page(users, "admin").post(url, {**form, "config_overrides": '{"stepz": 1}'})
    assert bad.status_code == 400
    assert AuditLog.objects.filter(action="training_settings.update").count() == 1


def test_refused_page_actions_write_no_audit_row(project, users):
    version = _version(project, 1, "candidate")
    run = TrainingRun.objects.create(project=project, trigger="manual", preset="smoke")
    rater = _page(users, "rater")
    item = Item.objects.filter(project=project).first()
    refused = [
        rater.post(reverse("version-promote", args=[version.pk])),
        rater.post(reverse("version-rollback", args=[project.slug])),
        rater.post(reverse("retrain", args=[project.slug])),
        rater.post(reverse("run-cancel", args=[run.pk])),
        rater.post(reverse("training-settings", args=[project.slug])),
        rater.post(reverse("data-import", args=[project.slug])),
        rater.post(reverse("adjudicate-item", args=[project.slug, item.pk]), {"label": "A"}),
    ]
    assert {response.status_code for response in refused} == {403}
    assert not AuditLog.objects.exists()


def test_a_rollback_with_nothing_to_roll_back_to_is_not_audited(project, users):
    _version(project, 1, "promoted")
    response = _page(users, "admin").post(reverse("version-rollback", args=[project.slug]))
    assert response.status_code == 400
    assert not AuditLog.objects.exists()


# --- the API: the same services, the same action names ---------------------------------------


def test_api_promote_retrain_cancel_and_import_use_the_page_action_names(project, users):
    client, token = _api(users)
    admin = users["admin"]
    version = _version(project, 1, "candidate")
    slug = project.slug

    assert client.post(f"/api/v1/projects/{slug}/versions/1/promote").status_code == 200
    _from_api(_only_row("version.promote"), admin, version, token)

    assert client.post(f"/api/v1/projects/{slug}/jobs").status_code == 202
    run = TrainingRun.objects.get()
    row = _only_row("job.start")
    _from_api(row, admin, run, token)
    assert row.summary["created"] is True and row.summary["trigger"] == "manual"

    assert client.post(f"/api/v1/jobs/{run.pk}/cancel").status_code == 200
    _from_api(_only_row("job.cancel"), admin, run, token)

    lines = [example.to_dict() for example in generate_demo_examples(2, seed=13)]
    pushed = client.post(
        f"/api/v1/projects/{slug}/items", json.dumps({"examples": lines}), "application/json"
    )
    assert pushed.status_code == 200
    row = _only_row("items.create")
    _from_api(row, admin, project, token)
    assert {k: row.summary[k] for k in ("created", "skipped")} == {
        k: pushed.json()[k] for k in ("created", "skipped")
    }
    # One row per change: the routers add none of their own.
    assert AuditLog.objects.count() == 4 + 1  # and the token's creation


def test_a_second_start_returns_the_active_run_and_says_so(project, users):
    client, token = _api(users)
    assert client.post(f"/api/v1/projects/{project.slug}/jobs").status_code == 202
    assert client.post(f"/api/v1/projects/{project.slug}/jobs").status_code == 202
    assert TrainingRun.objects.count() == 1
    created = list(
        AuditLog.objects.filter(action="job.start")
        .order_by("id")
        .values_list("summary__created", flat=True)
    )
    assert created == [True, False]


# --- changes the system makes on its own -----------------------------------------------------


def test_system_changes_are_audited_without_a_user(project):
    run = training_run_bootstrap(project=project)
    row = _only_row("job.start")
    assert row.user is None and row.username == "" and row.token is None and row.address is None
    assert (row.object_id, row.summary["trigger"]) == (str(run.pk), "bootstrap")
