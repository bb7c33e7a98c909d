"""The recipes end to end on a small subsample of the real shared data (a few training steps):
every report field, splits disjoint by prompt, baselines on the same items, teacher data kept
out of the default recipe, the teacher's rationales trained and explained."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest

from judging.demo_tasks import KEYWORD, generate_demo_examples
from judging.task_format import RESPONSE_A, RESPONSE_B, Example, Task, TaskType, render_prompt
from training.__main__ import main as cli
from training.config import TrainConfig
from training.recipes.data import (
    DEFAULT_DATA,
    SELF_TAUGHT_PREFIX,
    TEACHER_SOURCE,
    fit_example,
    fit_to_window,
    prompt_key,
    self_taught_examples,
    training_views,
)
from training.recipes.evaluation import _is_human
from training.recipes.model_card import REPO_ROOT, git_commit
from training.recipes.profiles import Profile
from training.recipes.run import build_data, check_disjoint, run_recipe
from training.recipes.teacher import (
    TEACHER_COT_TASK,
    TEACHER_TASK,
)

DATA = DEFAULT_DATA
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not present")

TINY = Profile(
    name="test",
    train=TrainConfig(
        model_size="tiny",
        model_overrides={"d_model": 32, "n_layers": 2, "d_ff": 64},
        steps=4,
        batch_size=8,
        learning_rate=1e-3,
        warmup_steps=1,
        max_len=128,
        vocab_size=512,
        log_every=2,
        checkpoint_every=0,
    ),
    judged_chars=60,
    prompt_chars=700,
    context_chars=80,
    reference_chars=60,
    max_train_per_task=30,
    max_eval_per_task=10,
    max_eval_pairwise=25,
    demo_per_task=30,
    self_taught_per_task=15,
    teacher_examples=40,
    teacher_scan=2000,
    bootstrap=30,
    bias=False,
)
SOURCES = ["qa-feedback", "dices"]
# The teacher recipe with the judges' rationales: the chain-of-thought records start near
# record 31,000; a window of 256 tokens leaves room for most of them after the prompt, and 40
# steps make the tiny judge's verdicts valid, so it goes on to generate.
TINY_COT = dataclasses.replace(
    TINY,
    train=TINY.train.replace(
        max_len=256, vocab_size=1024, steps=40, learning_rate=1e-2, warmup_steps=4, log_every=10
    ),
    teacher_scan=33_000,
    teacher_explanations=True,
    teacher_explained=40,
    explanation_tokens=24,
)


def test_fit_example_keeps_both_responses_and_the_end_of_conversations():
    task = Task(
        name="t",
        type=TaskType.PAIRWISE,
        title="t",
        description="d",
        context_fields=("question", "conversation", RESPONSE_A, RESPONSE_B),
        output_fields=("choice",),
        labels=("A", "B"),
    )
    example = Example(
        task="t",
        context={
            "question": "q" * 1000,
            "conversation": [{"role": "user", "content": f"turn {i} " * 40} for i in range(9)],
            RESPONSE_A: "start " + "a" * 2000 + " end-a",
            RESPONSE_B: "b",
        },
        label="A",
    )
    profile = dataclasses.replace(TINY, prompt_chars=None, judged_chars=120)
    fitted = fit_example(task, example, profile)
    assert len(fitted.context["question"]) <= profile.context_chars + 4
    assert fitted.context[RESPONSE_A].startswith("start") and fitted.context[RESPONSE_A].endswith(
        "end-a"
    )
    assert len(fitted.context[RESPONSE_A]) <= profile.judged_chars + 5
    assert fitted.context[RESPONSE_B] == "b"
    assert "turn 8" in fitted.context["conversation"][-1]["content"]


def _pair_task() -> Task:
    return Task(
        name="t",
        type=TaskType.PAIRWISE,
        title="t",
        description="d",
        context_fields=("question", RESPONSE_A, RESPONSE_B),
        output_fields=("choice",),
        labels=("A", "B"),
    )


def test_judged_fields_share_the_window_the_background_leaves():
    task = _pair_task()
    profile = dataclasses.replace(TINY, prompt_chars=1000, judged_chars=50, context_chars=100)
    long_pair = Example(
        task="t",
        context={"question": "q" * 500, RESPONSE_A: "a" * 3000, RESPONSE_B: "b" * 3000},
        label="A",
    )
    fitted = fit_example(task, long_pair, profile)
    a, b = len(fitted.context[RESPONSE_A]), len(fitted.context[RESPONSE_B])
    assert 350 <= a <= 450 and abs(a - b) <= 2  # (1000 - ~130 background) / 2, equal shares
    assert len(render_prompt(task, fitted)) < 1000 + 200  # + the instructions block
    # A short response leaves its share to the other one.
    short_b = dataclasses.replace(long_pair, context={**long_pair.context, RESPONSE_B: "b" * 40})
    fitted = fit_example(task, short_b, profile)
    assert fitted.context[RESPONSE_B] == "b" * 40
    assert len(fitted.context[RESPONSE_A]) > 700


def test_fit_to_window_shrinks_the_responses_until_the_prompt_fits():
    task = _pair_task()
    profile = dataclasses.replace(TINY, prompt_chars=2000, judged_chars=20, context_chars=100)
    example = Example(
        task="t",
        context={"question": "why?", RESPONSE_A: "x " * 2000 + "x", RESPONSE_B: "y " * 2000 + "y"},
        label="A",
    )

    def count(text: str) -> int:  # "x " and "y " are one token each, like a word-level BPE
        return len(text.split())

    assert count(render_prompt(task, fit_example(task, example, profile))) > 300
    fitted = fit_to_window(task, example, profile, count, window=300)
    tokens = count(render_prompt(task, fitted))
    assert 220 <= tokens <= 300  # fits, without throwing most of the room away
    assert fitted.context["question"] == "why?"
    assert fitted.context[RESPONSE_A].startswith("x") and fitted.context[RESPONSE_B].endswith("y")


def test_training_views_show_other_windows_of_long_responses():
    task = _pair_task()
    profile = dataclasses.replace(TINY, judged_chars=60, prompt_chars=None, train_views=4)
    words = [f"w{i}" for i in range(200)]
    example = Example(
        task="t",
        context={"question": "why?", RESPONSE_A: " ".join(words), RESPONSE_B: "short answer"},
        label="A",
        id="e1",
    )

    def count(text: str) -> int:
        return len(text.split())

    views = training_views(task, example, profile, count, window=10_000)
    assert len(views) == 4
    assert views[0] == fit_example(task, example, profile)  # view 0 is what the judge sees
    texts = [v.context[RESPONSE_A] for v in views]
    assert len(set(texts)) == 4
    for text in texts[1:]:
        body = text.removeprefix("... ").removesuffix(" ...")
        assert len(body) <= 60 and body in example.context[RESPONSE_A]
        assert body.split()[0] in words  # starts at a whole word
    assert all(v.context[RESPONSE_B] == "short answer" and v.label == "A" for v in views)
    # Deterministic, and one view when nothing is long enough to differ.
    assert training_views(task, example, profile, count, window=10_000) == views
    short = dataclasses.replace(example, context={**example.context, RESPONSE_A: "brief"})
    assert len(training_views(task, short, profile, count, window=10_000)) == 1


def test_default_recipe_end_to_end(tmp_path):
    out = tmp_path / "default"
    report = run_recipe("default", out, profile=TINY, sources=SOURCES, log=lambda _: None)

    # Outputs on disk, and the report has every field.
    assert (out / "model" / "metadata.json").exists() or any((out / "model").iterdir())
    saved = json.loads((out / "recipe.json").read_text())
    assert saved["recipe"] == "default"
    assert (out / "report" / "report.json").exists()
    card = (out / "model_card.md").read_text()
    assert "longer_wins" in card and "tfidf_logreg" in card
    # The card names the profile and the git commit that produced the run.
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", saved["commit"])
    assert f"Profile: `test`; commit: `{saved['commit']}`." in card
    for field in (
        "sources",
        "excluded_sources",
        "split_counts",
        "mixture_weights",
        "train",
        "timings",
        "pooled_pairwise_human",
        "overall_human_accuracy",
        "per_task",
        "judge_summary",
    ):
        assert field in report, field
    pooled = report["pooled_pairwise_human"]
    assert pooled["n"] > 0 and pooled["tasks"] == ["qa-feedback/preference"]
    assert sum(pooled["gold_labels"].values()) == pooled["n"]
    assert f"A {pooled['gold_labels']['A']}" in card
    for name in ("judge", "longer_wins", "shorter_wins", "tfidf_logreg", "random"):
        row = pooled[name]
        for key in ("accuracy", "longer_lost", "longer_won", "length_balanced", "consistency"):
            assert key in row, (name, key)
        assert row["accuracy"]["ci"] is not None
    # By construction: a length rule is always wrong where the longer response lost.
    assert pooled["longer_wins"]["longer_lost"]["value"] == 0.0
    assert pooled["shorter_wins"]["longer_won"]["value"] == 0.0
    assert pooled["longer_wins"]["length_balanced"]["value"] == pytest.approx(0.5)
    assert 0.0 <= pooled["judge"]["consistency"] <= 1.0
    assert set(pooled["judge_minus"]) >= {"longer_wins", "shorter_wins", "tfidf_logreg"}
    assert "dices/safety" in report["per_task"]
    assert "demo_arithmetic" in report["per_task"]

    # Licences and exclusions are recorded; teacher data never enters the default recipe.
    assert report["sources"]["dices"]["license"] == "CC BY 4.0"
    assert TEACHER_SOURCE in report["excluded_sources"]
    assert TEACHER_TASK not in report["mixture_weights"]
    assert not any(name.startswith("alpaca") for name in report["train_rows_per_task"])
    assert any(name.startswith(SELF_TAUGHT_PREFIX) for name in report["train_rows_per_task"])


def test_splits_are_disjoint_by_prompt_and_self_taught_uses_training_prompts_only():
    data = build_data("default", DATA, TINY, sources=SOURCES, log=lambda _: None)
    tasks = data["tasks"]
    keys = {
        name: {prompt_key(tasks[e.task], e) for e in rows} for name, rows in data["splits"].items()
    }
    assert keys["train"] and keys["test"] and keys["dev"]
    assert not keys["train"] & keys["test"]
    assert not keys["train"] & keys["dev"]
    assert not keys["dev"] & keys["test"]
    heldout_keys = keys["test"] | keys["dev"]
    synthetic = [e for e in data["train"] if e.task.startswith(SELF_TAUGHT_PREFIX)]
    assert synthetic
    for example in synthetic:
        assert prompt_key(tasks[example.task], example) not in heldout_keys
    assert all(e.task != TEACHER_TASK for rows in data["splits"].values() for e in rows)
    with pytest.raises(AssertionError):
        leaked = {**data["splits"], "test": [*data["splits"]["test"], data["splits"]["train"][0]]}
        check_disjoint(tasks, leaked)


def test_teacher_recipe_data_is_swapped_split_by_instruction_and_kept_apart():
    data = build_data("teacher", DATA, TINY, sources=["dices"], log=lambda _: None)
    teacher = [e for rows in data["splits"].values() for e in rows if e.task == TEACHER_TASK]
    assert 0 < len(teacher) <= TINY.teacher_examples
    # Upstream the reference answer is always response A; about half are swapped here.
    assert 0 < data["teacher"]["swapped"] < len(teacher)
    check_disjoint(data["tasks"], data["splits"])
    assert data["sources"][TEACHER_SOURCE]["license"].startswith("CC BY-NC")
    assert not any(_is_human(e) for e in teacher)


def test_teacher_recipe_trains_the_judges_rationales(tmp_path):
    out = tmp_path / "teacher"
    report = run_recipe("teacher", out, profile=TINY_COT, sources=["dices"], log=lambda _: None)
    info = report["sources"][TEACHER_SOURCE]
    assert info["with_explanation"] + info["explanation_unrewritable"] == 40
    assert info["tasks"] == [TEACHER_TASK, TEACHER_COT_TASK]

    # The rationales reach training: the whole EVALUATION block of the CoT task, and only there.
    metadata = json.loads((out / "model" / "metadata.json").read_text())
    assert metadata["explains"] == [TEACHER_COT_TASK]
    assert metadata["train_config"]["evaluation_block"] is True
    explanations = report["explanations"]
    trained = explanations["train"]
    assert trained["examples"] == metadata["examples_per_task"][TEACHER_COT_TASK] > 0
    # Every other task still trains its verdict, in the mixture as before.
    for name in ("dices/safety", TEACHER_TASK, "demo_arithmetic", "demo_keyword"):
        assert metadata["examples_per_task"][name] > 0 and report["mixture_weights"][name] > 0
    assert not any(
        n.startswith(SELF_TAUGHT_PREFIX) and n.endswith("-cot")
        for n in metadata["examples_per_task"]
    )

    # Held-out CoT items are judged with explanations, reported apart from the human numbers.
    assert explanations["tasks"] == [TEACHER_COT_TASK]
    assert explanations["n"] == report["per_task"][TEACHER_COT_TASK]["n"] > 0
    assert 0 < explanations["generated"] <= explanations["n"]
    assert TEACHER_COT_TASK not in report["pooled_pairwise_human"]["tasks"]
    assert TEACHER_COT_TASK in report["note"]
    card = (out / "model_card.md").read_text()
    assert f"Explanations: {trained['examples']} training examples of `{TEACHER_COT_TASK}`" in card


def test_unknown_source_and_profile_are_clear_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="permissively licensed"):
        build_data("default", DATA, TINY, sources=["alpaca-eval-judgments"])
    with pytest.raises(ValueError, match="unknown recipe"):
        build_data("nope", DATA, TINY)
    code = cli(["recipe", "default", "--out", str(tmp_path), "--source", "usr-topical-chat"])
    assert code == 2
    assert "permissively licensed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "expected"),
    [([], True), (["--no-explanations"], False), (["--explanations"], True)],
)
def test_cli_explanations_flag_sets_the_profile(tmp_path, monkeypatch, flag, expected):
    import training.recipes.run as run_module

    seen = []

    def capture(recipe, out, *, profile, **kwargs):  # records the profile, runs nothing
        seen.append(profile)
        raise ValueError("stop")

    monkeypatch.setattr(run_module, "run_recipe", capture)
    assert cli(["recipe", "teacher", "--profile", "quick", "--out", str(tmp_path), *flag]) == 2
    assert seen[0].name == "quick" and seen[0].teacher_explanations is expected


def test_git_commit_is_unknown_without_git_or_a_repository(tmp_path, monkeypatch):
    if shutil.which("git") and (REPO_ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", git_commit())
    assert git_commit(tmp_path) == "unknown"  # not a repository
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert git_commit() == "unknown"


def test_tie_pairs_only_for_tasks_with_a_tie_label():
    no_tie = dataclasses.replace(KEYWORD, name="keyword-no-tie", labels=("A", "B"))
    keyword = [e for e in generate_demo_examples(80, seed=0) if e.task == KEYWORD.name]
    examples = [*keyword, *(dataclasses.replace(e, task=no_tie.name) for e in keyword)]
    tasks = {KEYWORD.name: KEYWORD, no_tie.name: no_tie}
    new_tasks, pairs = self_taught_examples(
        tasks, examples, per_task=10, top_k=3, seed=0, tie_per_task=6
    )
    ties = [p for p in pairs if p.label == "tie"]
    assert len(ties) == 6
    assert {p.task for p in ties} == {SELF_TAUGHT_PREFIX + KEYWORD.name}
    assert set(new_tasks) == {
        SELF_TAUGHT_PREFIX + KEYWORD.name,
        SELF_TAUGHT_PREFIX + no_tie.name,
    }
    _, without = self_taught_examples(tasks, examples, per_task=10, top_k=3, seed=0)
    assert not any(p.label == "tie" for p in without)


def test_an_unknown_profile_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        run_recipe("default", tmp_path, profile="nope")
