"""Autorater admin endpoints: settings validation, promote/rollback by hand, permissions."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun, TrainingSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return demo_project_ensure(n_per_task=3)


def _client(client, username):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _version(project, number, status):
    return AutoraterVersion.objects.create(
        project=project,
        number=number,
        status=status,
        checkpoint_dir="/nonexistent",
        snapshot_hash="f" * 64,
        promoted_at=timezone.now() if status != "candidate" else None,
    )


def test_settings_reject_unknown_tasks_and_bad_config(client, project):
    admin = _client(client, "admin")
    url = reverse("training-settings", args=[project.slug])
    base = {"variant": "flame", "gate_agreement_tolerance": "0", "gate_bias_tolerance": "0.05"}
    bad = admin.post(url, {**base, "mixture_weights": '{"nope": 1}', "config_overrides": "{}"})
    assert bad.status_code == 400 and "Unknown task" in bad.content.decode()
    bad = admin.post(url, {**base, "mixture_weights": "{}", "config_overrides": '{"stepz": 1}'})
    assert bad.status_code == 400 and "stepz" in bad.content.decode()
    good = admin.post(
        url,
        {
            **base,
            "variant": "opt-rm",
            "mixture_weights": '{"demo_arithmetic": 2}',
            "config_overrides": '{"steps": 50}',
        },
    )
    assert good.status_code == 200
    saved = TrainingSettings.objects.get(project=project)
    assert saved.variant == "opt-rm" and saved.mixture_weights == {"demo_arithmetic": 2}


def test_unknown_variant_is_a_clear_error(client, project):
    response = _client(client, "admin").post(
        reverse("retrain", args=[project.slug]), {"variant": "x"}
    )
    assert response.status_code == 400 and "variant" in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_promote_and_roll_back_by_hand(client, project, django_capture_on_commit_callbacks):
    old = _version(project, 1, "retired")
    live = _version(project, 2, "promoted")
    admin = _client(client, "admin")
    with django_capture_on_commit_callbacks():
        assert admin.post(reverse("version-rollback", args=[project.slug])).status_code == 200
    old.refresh_from_db(), live.refresh_from_db()
    assert old.status == "promoted" and live.status == "rolled_back"
    with django_capture_on_commit_callbacks():
        assert admin.post(reverse("version-promote", args=[live.pk])).status_code == 200
    live.refresh_from_db()
    assert live.status == "promoted"


def test_rater_cannot_cancel_promote_or_change_settings(client, project):
    version = _version(project, 1, "candidate")
    run = TrainingRun.objects.create(project=project, trigger="manual", preset="smoke")
    rater = _client(client, "rater")
    assert rater.post(reverse("version-promote", args=[version.pk])).status_code == 403
    assert rater.post(reverse("run-cancel", args=[run.pk])).status_code == 403
    assert rater.post(reverse("training-settings", args=[project.slug])).status_code == 403
    run.refresh_from_db(), version.refresh_from_db()
    assert run.status == "queued" and version.status == "candidate"
