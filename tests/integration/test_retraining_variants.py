"""The FLAMe-RM and FLAMe-Opt-RM variants through the web retraining path, on a real Celery
worker: a FLAMe version goes live, FLAMe-RM fine-tunes it, and FLAMe-Opt-RM fans its tail-patch
probes out as a Celery group, then trains on the weights they give. Each run registers one
version with its variant and lineage. Real parts: Postgres, Redis, a Celery worker, Flax."""

from collections import Counter

import pytest

from tests.conftest import wait_until
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Item
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TailPatchProbe, TrainingRun
from webapp.retraining.services import training_run_request

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = {"demo_arithmetic", "demo_keyword"}


def _run_to_end(project, variant: str, steps: int) -> TrainingRun:
    run = training_run_request(
        project=project,
        trigger=TrainingRun.Trigger.MANUAL,
        variant=variant,
        config_overrides={"steps": steps, "log_every": 2},
    )

    def settled():
        run.refresh_from_db()
        return run.status not in TrainingRun.ACTIVE

    wait_until(settled, timeout=420, interval=0.5, what=f"the {variant} run")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.variant == variant and run.step == steps == run.total_steps
    return run


def _version_of(run: TrainingRun) -> AutoraterVersion:
    versions = AutoraterVersion.objects.filter(training_run=run)
    assert versions.count() == 1
    version = versions.get()
    assert version.variant == run.variant == version.config["variant"]
    assert version.snapshot_hash == run.snapshot_hash and version.metrics["n"] > 0
    assert version.mixture_weights == run.mixture_weights
    assert sum(version.mixture_weights.values()) == pytest.approx(1.0)
    return version


def test_rm_and_opt_rm_variants_train_from_the_live_flame_version(celery_worker):
    project = demo_project_ensure(n_per_task=20)
    flame = _version_of(_run_to_end(project, "flame", steps=6))
    assert flame.parent is None and flame.status == AutoraterVersion.Status.PROMOTED
    assert not TailPatchProbe.objects.exists()

    # FLAMe-RM: the live FLAMe checkpoint fine-tuned on an equal mix of the pairwise tasks.
    run = _run_to_end(project, "rm", steps=4)
    rm = _version_of(run)
    assert run.base_checkpoint == flame.checkpoint_dir == rm.config["base_checkpoint"]
    assert rm.parent == flame
    assert rm.mixture_weights == {name: pytest.approx(0.5) for name in TASKS}
    assert not run.probes.exists()
    live = AutoraterVersion.objects.get(project=project, status=AutoraterVersion.Status.PROMOTED)

    # FLAMe-Opt-RM: one tail-patch probe per task (a Celery group) from the live checkpoint;
    # the final training uses the weights they give.
    run = _run_to_end(project, "opt-rm", steps=4)
    opt = _version_of(run)
    assert run.base_checkpoint == live.checkpoint_dir and opt.parent == live
    probes = list(run.probes.all())
    heldout = Counter(
        Item.objects.filter(project=project, split=Item.Split.HELDOUT).values_list(
            "task__name", flat=True
        )
    )
    assert {probe.task_name for probe in probes} == TASKS
    for probe in probes:
        assert probe.status == TailPatchProbe.Status.DONE and not probe.error
        assert probe.result["task"] == probe.task_name and probe.result["steps"] == 4
        assert probe.result["base_checkpoint"] == live.checkpoint_dir
        # Measured on the project's held-out labels (what the gate measures), every task.
        assert set(probe.result["categories"]) == TASKS
        for name, category in probe.result["categories"].items():
            assert category["n"] == heldout[name] > 0 and len(category["curve"]) == 2
    from training.variants.tailpatch_plan import tailpatch_weights

    weights = tailpatch_weights({probe.task_name: probe.result for probe in probes})
    assert opt.mixture_weights == pytest.approx(weights)
    assert run.config["mixture_weights"] == pytest.approx(weights)
    assert run.retries == 1  # the last probe resumed the run under its lease
    assert AutoraterVersion.objects.filter(project=project).count() == 3
