"""The Self-Taught variant through the web retraining path, on a real Celery worker: a FLAMe
version goes live, then a Self-Taught run writes its own pairs from the project's instructions
with that checkpoint (writer and judge), keeps the correctly judged ones, retrains, and registers
a version whose report holds each round's kept pairs and held-out accuracy. Real parts:
Postgres, Redis, a Celery worker, Flax. The tiny model writes token soup: this checks the path,
not what it writes."""

import json
from pathlib import Path

import pytest

from judging.task_format import read_jsonl
from tests.conftest import wait_until
from webapp.annotation.demo import demo_project_ensure
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_request

pytestmark = pytest.mark.django_db(transaction=True)


def _run_to_end(project, variant: str, steps: int) -> TrainingRun:
    run = training_run_request(
        project=project,
        trigger=TrainingRun.Trigger.MANUAL,
        variant=variant,
        config_overrides={"steps": steps, "log_every": 10},
    )

    def settled():
        run.refresh_from_db()
        return run.status not in TrainingRun.ACTIVE

    wait_until(settled, timeout=480, interval=0.5, what=f"the {variant} run")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return run


def test_self_taught_run_writes_its_pairs_on_a_celery_worker(celery_worker):
    project = demo_project_ensure(n_per_task=20)
    _run_to_end(project, "flame", steps=120)
    live = AutoraterVersion.objects.get(project=project, status=AutoraterVersion.Status.PROMOTED)

    run = _run_to_end(project, "self-taught", steps=4)
    assert run.variant == "self-taught" and run.base_checkpoint == live.checkpoint_dir
    version = AutoraterVersion.objects.get(training_run=run)
    assert version.variant == "self-taught" and version.parent == live
    report = json.loads((Path(version.report_dir) / "report.json").read_text())
    rounds = report["self_taught"]["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    entry = rounds[1]
    print(json.dumps({k: v for k, v in entry.items() if k != "kept_pairs_shown"}, indent=1))
    assert entry["prompts"] >= 2 and entry["written"] > 0
    assert entry["trained"] and entry["balanced"] > 0  # some sampled verdicts were right
    assert isinstance(entry["accuracy"], float) and isinstance(rounds[0]["accuracy"], float)
    _, kept = read_jsonl(entry["kept_pairs_file"])
    assert len(kept) == entry["balanced"]
    for example in kept:
        origin = example.provenance["self_taught"]
        assert origin["written_instruction"] and origin["judgment"] == example.label
