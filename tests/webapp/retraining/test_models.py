"""Variant (the training algorithm, once called "recipe") and the run's phases as choices: the
stored values are those runs and versions had before the rename."""

import importlib

import pytest
from django.apps import apps

from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun, TrainingSettings, Variant


def test_variants_keep_their_stored_values_and_names():
    assert Variant.choices == [
        ("flame", "FLAMe"),
        ("rm", "FLAMe-RM"),
        ("opt-rm", "FLAMe-Opt-RM"),
        ("self-taught", "Self-Taught (writes its own pairs)"),
    ]
    assert TrainingRun._meta.get_field("variant").default == Variant.FLAME
    assert TrainingSettings._meta.get_field("variant").choices == Variant.choices


def test_phases_are_the_strings_runs_stored_before():
    assert TrainingRun.Phase.values == [
        "snapshot",
        "training base",
        "tail-patch probes",
        "training",
        "evaluating",
        "registering",
        "report",
        "promoting",
        "done",
        "cancelled",
    ]
    # The page shows the phase as it always did: label == value.
    assert all(value == label for value, label in TrainingRun.Phase.choices)
    assert TrainingRun._meta.get_field("phase").choices == TrainingRun.Phase.choices


@pytest.mark.django_db
def test_the_migration_renames_the_lineage_key_of_existing_versions():
    migration = importlib.import_module("webapp.autoraters.migrations.0005_version_variant")
    project = demo_project_ensure(n_per_task=1)
    old = AutoraterVersion.objects.create(
        project=project,
        number=1,
        checkpoint_dir="/x",
        snapshot_hash="0" * 64,
        config={"recipe": "rm", "preset": "smoke"},
        variant="rm",
    )
    new = AutoraterVersion.objects.create(
        project=project,
        number=2,
        checkpoint_dir="/y",
        snapshot_hash="1" * 64,
        config={"variant": "flame"},
    )
    migration.forwards(apps, None)
    old.refresh_from_db(), new.refresh_from_db()
    assert old.config == {"variant": "rm", "preset": "smoke"} and old.variant == "rm"
    assert new.config == {"variant": "flame"}
    migration.backwards(apps, None)
    old.refresh_from_db()
    assert old.config == {"recipe": "rm", "preset": "smoke"}
