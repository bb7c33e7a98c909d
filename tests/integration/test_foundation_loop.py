"""The FLAMe loop through the app, on a real Celery worker (Postgres, Redis, Flax): a foundation
mixture is built from a folder of converted tasks and its autorater trained and registered like
any version; a team's project then starts from it, and every retrain continues from the live
version with its tokenizer, on the foundation's tasks and the project's, both listed with their
weights in the version's lineage."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, write_jsonl
from tests.conftest import wait_until
from tests.factories import pairwise_task
from webapp.annotation.models import Project
from webapp.annotation.services import items_create, task_definition_upsert
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.foundation import foundation_build, foundation_train_request
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_request, training_settings_for

pytestmark = pytest.mark.django_db(transaction=True)

TEAM_TASK = pairwise_task("team_agree", labels=("A", "B"), title="Which response agrees?")


def team_examples(n: int, seed: int = 0) -> list[Example]:
    """A known-answer task the foundation has never seen: the approving response wins (no word
    of either response is in the question, so the foundation's tasks do not give it away)."""
    rng = random.Random(seed)
    topics = "the plan|the budget|the schedule|the design|the menu|the route".split("|")
    rows = []
    for i in range(n):
        topic = rng.choice(topics)
        good, bad = f"Approved: {topic} works.", f"Rejected: {topic} fails."
        first = rng.random() < 0.5
        rows.append(
            Example(
                task=TEAM_TASK.name,
                context={
                    "question": f"Review {topic}, case {i}.",
                    RESPONSE_A: good if first else bad,
                    RESPONSE_B: bad if first else good,
                },
                label="A" if first else "B",
                id=f"team-{seed}-{i}",
            )
        )
    return rows


def team_project(n: int = 40, seed: int = 0) -> Project:
    project = Project.objects.create(name="Team", slug=f"team-{seed}")
    definition = task_definition_upsert(project=project, task=TEAM_TASK)
    examples = team_examples(n, seed)
    heldout = {e.id for e in examples[: n // 4]}
    items_create(
        project=project,
        definition=definition,
        examples=examples,
        heldout_ids=heldout,
        is_gold=True,
    )
    return project


def foundation_folder(root: Path, n: int = 60) -> Path:
    folder = root / "foundation-data"
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "demo.jsonl", DEMO_TASKS, generate_demo_examples(n, seed=5))
    return folder


def run_to_end(run: TrainingRun, timeout: float = 420) -> TrainingRun:
    def settled():
        run.refresh_from_db()
        return run.status not in TrainingRun.ACTIVE

    wait_until(settled, timeout=timeout, interval=0.5, what=f"run {run.pk}")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return run


def vocab_hash(version: AutoraterVersion) -> str:
    path = Path(version.checkpoint_dir) / "tokenizer.json"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_project_retrains_continue_from_the_live_version_on_foundation_and_project_tasks(
    celery_worker, tmp_path
):
    foundation = foundation_build(folder=foundation_folder(tmp_path))
    run = run_to_end(foundation_train_request(config_overrides={"steps": 8, "log_every": 4}))
    base = AutoraterVersion.objects.get(training_run=run)
    assert base.project == foundation.project and base.status == AutoraterVersion.Status.PROMOTED
    assert base.config["start"]["kind"] == "scratch"
    assert base.config["mixture"]["foundation"]["sha256"] == foundation.sha256
    assert base.config["mixture"]["foundation"]["tasks"] == pytest.approx(foundation.weights)
    assert base.config["mixture"]["project_tasks"] == {}
    assert base.metrics["n"] > 0  # judged on the foundation's held-out tasks

    project = team_project()
    project_settings = training_settings_for(project)
    assert project_settings.project_share == 0.5
    # this test is about where training starts and what it mixes, not the gate's decision
    project_settings.gate_foundation_tolerance = 1.0
    project_settings.gate_agreement_tolerance = 1.0
    project_settings.save()
    first = run_to_end(
        training_run_request(
            project=project, trigger="manual", config_overrides={"steps": 6, "log_every": 2}
        )
    )
    v1 = AutoraterVersion.objects.get(training_run=first)
    assert first.base_checkpoint == base.checkpoint_dir
    assert v1.config["start"]["kind"] == "foundation"
    assert v1.config["start"]["tokenizer_sha256"] == vocab_hash(base) == vocab_hash(v1)
    mixture = v1.config["mixture"]
    assert set(mixture["foundation"]["tasks"]) == {t.name for t in DEMO_TASKS}
    assert mixture["project_tasks"] == {TEAM_TASK.name: pytest.approx(0.5)}
    assert sum(mixture["foundation"]["tasks"].values()) == pytest.approx(0.5)
    assert v1.mixture_weights == pytest.approx(
        {**mixture["foundation"]["tasks"], **mixture["project_tasks"]}
    )
    # the gate measured the no-forgetting check against the start (no live version yet)
    check = v1.gate["checks"][-1]
    assert check["name"] == "foundation" and check["n"] > 0 and "start" in check["reference"]
    assert v1.metrics["foundation"]["n"] == check["n"]

    live = AutoraterVersion.objects.get(project=project, status=AutoraterVersion.Status.PROMOTED)
    second = run_to_end(
        training_run_request(
            project=project, trigger="manual", config_overrides={"steps": 6, "log_every": 2}
        )
    )
    v2 = AutoraterVersion.objects.get(training_run=second)
    assert second.base_checkpoint == live.checkpoint_dir
    assert v2.config["start"] == {
        "kind": "live",
        "checkpoint": live.checkpoint_dir,
        "version": live.number,
        "project": project.slug,
        "tokenizer_sha256": vocab_hash(base),
    }
    assert vocab_hash(v2) == vocab_hash(base)
    assert v2.config["tokenizer_sha256"] == vocab_hash(base)
    assert [c["name"] for c in v2.gate["checks"]] == ["agreement", "position bias", "foundation"]
    assert v2.gate["checks"][-1]["reference"] == "live version"
