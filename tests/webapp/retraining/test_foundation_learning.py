"""Learning test of the FLAMe loop (real Postgres, real Flax training, in-process runs): a
foundation autorater learns two public-style tasks; a team's project adds a new labelled
known-answer task; the retrained version, continued from the foundation with its tokenizer on
the mixture (project share 0.5), learns the new task while its accuracy on the foundation's
held-out tasks stays within MARGIN of its parent's (the gate's no-forgetting check measures
both).

The foundation's held-out split is by prompt (training.foundation.split): its held-out items ask
questions the model never trained on. So its tasks here are ones a tiny model can answer for an
unseen prompt (a politeness and a completeness rule; the demo's arithmetic, whose unseen sums a
tiny model cannot add, made the parent's held-out accuracy depend on the machine). The team's
task asks, per item, for the approving or the rejecting review: a parent that merely prefers
one kind of response scores about half, so what the child gets right beyond that it learned from
the team's labels."""

from __future__ import annotations

import random

import pytest

from judging.inference import Judge
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, write_jsonl
from tests.factories import pairwise_task
from webapp.annotation.models import Project
from webapp.annotation.services import items_create, task_definition_upsert
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


POLITE = pairwise_task("public_polite", prompt_field="request", labels=("A", "B"))
COMPLETE = pairwise_task("public_complete", prompt_field="prompt", labels=("A", "B"))
# A team's rubric shown exactly as POLITE (same title, fields, labels) that prefers the other reply.
BLUNT = pairwise_task("team_blunt", prompt_field="request", labels=("A", "B"))
TEAM_TASK = pairwise_task("team_review", labels=("A", "B"), title="Which review is asked for?")
_NAMES = "Ann Bob Cleo Dan Eve Finn Gus Hana Ivo Jude".split()
_VERBS = "open close paint carry clean fix move wash check fold".split()
_NOUNS = "door window box chair table lamp bike boat car desk shelf gate".split()
_ADJECTIVES = "red old new small large warm cold clean heavy quiet".split()


def _pair(task, rng, index: int, prompt_field: str, prompt: str, right: str, wrong: str):
    right_first = rng.random() < 0.5
    first, second = (right, wrong) if right_first else (wrong, right)
    return Example(
        task=task.name,
        id=f"{task.name}-{index}",
        context={prompt_field: prompt, RESPONSE_A: first, RESPONSE_B: second},
        label="A" if right_first else "B",
    )


def _request(rng) -> tuple[str, str, str]:
    """(request, polite reply, blunt reply)."""
    name, verb, noun = rng.choice(_NAMES), rng.choice(_VERBS), rng.choice(_NOUNS)
    return (
        f"Ask {name} to {verb} the {noun}.",
        f"Please {verb} the {noun}, thank you.",
        (f"{verb} the {noun} now!"),
    )


def public_examples(n: int, seed: int) -> list[Example]:
    """N items of each foundation task: the polite reply wins; the finished sentence wins."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        prompt, polite, blunt = _request(rng)
        rows.append(_pair(POLITE, rng, i, "request", prompt, polite, blunt))
        noun, adjective = rng.choice(_NOUNS), rng.choice(_ADJECTIVES)
        prompt = f"Describe the {noun} of {rng.choice(_NAMES)}."
        whole, cut = f"The {noun} is {adjective}.", f"The {noun} is"
        rows.append(_pair(COMPLETE, rng, i, "prompt", prompt, whole, cut))
    return rows


def team_project(n: int, seed: int) -> Project:
    """A known-answer task the foundation never saw: each item asks for the approving review or
    the rejecting one, at random."""
    rng = random.Random(seed)
    topics = "the plan|the budget|the schedule|the design|the menu|the route".split("|")
    examples = []
    for i in range(n):
        topic = rng.choice(topics)
        wanted = rng.choice(("yes", "no"))
        yes, no = f"Approved: {topic} works.", f"Rejected: {topic} fails."
        right, wrong = (yes, no) if wanted == "yes" else (no, yes)
        question = f"Review {topic}, case {i}: which reviewer said {wanted}?"
        examples.append(_pair(TEAM_TASK, rng, i, "question", question, right, wrong))
    project = Project.objects.create(name="Team", slug=f"team-{seed}")
    definition = task_definition_upsert(project=project, task=TEAM_TASK)
    heldout = {e.id for e in examples[: n // 4]}
    items_create(
        project=project, definition=definition, examples=examples, heldout_ids=heldout, is_gold=True
    )
    return project


def _accuracy(checkpoint: str, examples) -> float:
    verdicts = Judge.load(checkpoint).judge({TEAM_TASK.name: TEAM_TASK}, examples)
    hits = sum(v.valid and v.label == e.label for e, v in zip(examples, verdicts, strict=True))
    return hits / len(examples)


def test_a_new_task_is_learned_without_forgetting_the_foundation(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    folder = tmp_path / "public"
    folder.mkdir()
    write_jsonl(folder / "public.jsonl", (POLITE, COMPLETE), public_examples(400, seed=7))
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
    assert check["name"] == "foundation" and check["live"] >= 0.85  # the parent learned it
    assert check["candidate"] >= check["live"] - MARGIN
    assert child.gate["passed"] and child.status == AutoraterVersion.Status.PROMOTED

    # The team adds a rubric that contradicts a public task (the blunt reply wins, on requests
    # shown exactly as the foundation's) and trains on its own tasks alone (project share 1,
    # the foundation none): the candidate forgets what the foundation taught; the gate refuses
    # it and the child stays live.
    from webapp.retraining.services import training_settings_for

    rng = random.Random(3)
    contradicting = []
    for i in range(160):
        prompt, polite, blunt = _request(rng)
        contradicting.append(_pair(BLUNT, rng, i, "request", prompt, blunt, polite))
    items_create(
        project=project,
        definition=task_definition_upsert(project=project, task=BLUNT),
        examples=contradicting,
        heldout_ids={e.id for e in contradicting[:40]},
        is_gold=True,
    )
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
    assert set(forgot.mixture_weights) == {TEAM_TASK.name, BLUNT.name}
    assert sum(forgot.mixture_weights.values()) == pytest.approx(1.0)
    assert check["reference"] == "live version" and check["high"] < -0.02
    assert not forgot.gate["passed"] and "forgot the foundation" in forgot.gate["reason"]
    assert forgot.status == AutoraterVersion.Status.CANDIDATE
    child.refresh_from_db()
    assert child.status == AutoraterVersion.Status.PROMOTED
