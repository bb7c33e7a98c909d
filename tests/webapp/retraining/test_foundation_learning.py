"""Learning test of the FLAMe loop (real Postgres, real Flax training, in-process runs): a
foundation autorater learns the public tasks; a team's project adds a new labelled known-answer
task; the retrained version, continued from the foundation with its tokenizer on the mixture
(project share 0.5), learns the new task while its accuracy on the foundation's held-out tasks
stays within MARGIN of its parent's (the gate's no-forgetting check measures both)."""

from __future__ import annotations

import pytest

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.inference import Judge
from judging.task_format import write_jsonl
from tests.integration.test_foundation_loop import TEAM_TASK, team_project
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.execution import training_run_execute
from webapp.retraining.foundation import foundation_build, foundation_train_request
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_request
from webapp.retraining.snapshots import heldout_examples

pytestmark = pytest.mark.django_db(transaction=True)

# The retrained version may lose at most this much accuracy on the foundation's held-out tasks.
MARGIN = 0.10
# ... and must reach this held-out accuracy on the new task (its parent is at chance).
LEARNED = 0.9
TRAIN = {"learning_rate": 3e-3, "warmup_steps": 20, "batch_size": 16, "log_every": 50}


@pytest.fixture(autouse=True)
def _no_judging_messages():
    yield  # promotion queues judging on the broker; nothing consumes it here
    from webapp.config.celery import app

    app.control.purge()


def _execute(run: TrainingRun) -> AutoraterVersion:
    run = training_run_execute(run_id=run.pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return AutoraterVersion.objects.get(training_run=run)


def _accuracy(checkpoint: str, examples) -> float:
    verdicts = Judge.load(checkpoint).judge({TEAM_TASK.name: TEAM_TASK}, examples)
    hits = sum(v.valid and v.label == e.label for e, v in zip(examples, verdicts, strict=True))
    return hits / len(examples)


def test_a_new_task_is_learned_without_forgetting_the_foundation(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    folder = tmp_path / "public"
    folder.mkdir()
    write_jsonl(folder / "demo.jsonl", DEMO_TASKS, generate_demo_examples(600, seed=7))
    foundation_build(folder=folder)
    parent = _execute(foundation_train_request(config_overrides={**TRAIN, "steps": 600}))
    assert parent.status == AutoraterVersion.Status.PROMOTED

    project = team_project(n=160, seed=1)
    heldout = [e for e in heldout_examples(project) if e.task == TEAM_TASK.name]
    before = _accuracy(parent.checkpoint_dir, heldout)
    child = _execute(
        training_run_request(
            project=project,
            trigger="manual",
            config_overrides={**TRAIN, "steps": 200, "learning_rate": 1e-3},
        )
    )
    after = child.metrics["accuracy"]
    check = child.gate["checks"][-1]
    print(
        f"new task: parent {before:.3f} -> child {after:.3f} on {len(heldout)} held-out; "
        f"foundation held-out: parent {check['live']:.3f} -> child {check['candidate']:.3f} "
        f"(n={check['n']}, interval [{check['low']:.3f}, {check['high']:.3f}])"
    )
    assert child.config["start"]["version"] == parent.number
    assert before <= 0.75 and after >= LEARNED
    assert check["name"] == "foundation" and check["live"] >= 0.65  # the parent learned it
    assert check["candidate"] >= check["live"] - MARGIN
    assert child.gate["passed"] and child.status == AutoraterVersion.Status.PROMOTED

    # The same project trained on its own task alone (project share 1, the foundation none) at
    # a high learning rate forgets the foundation: the gate refuses it; the child stays live.
    from webapp.retraining.services import training_settings_for

    project_settings = training_settings_for(project)
    project_settings.project_share = 1.0  # the foundation gets nothing
    project_settings.save()
    forgot = _execute(
        training_run_request(
            project=project,
            trigger="manual",
            config_overrides={**TRAIN, "steps": 300, "learning_rate": 3e-3},
        )
    )
    check = forgot.gate["checks"][-1]
    print(f"project only: foundation held-out {check['live']:.3f} -> {check['candidate']:.3f}")
    assert forgot.mixture_weights == {TEAM_TASK.name: 1.0}
    assert check["reference"] == "live version" and check["high"] < -0.02
    assert not forgot.gate["passed"] and "forgot the foundation" in forgot.gate["reason"]
    assert forgot.status == AutoraterVersion.Status.CANDIDATE
    child.refresh_from_db()
    assert child.status == AutoraterVersion.Status.PROMOTED
