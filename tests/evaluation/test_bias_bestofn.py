import random

import pytest

from evaluation.baselines import (
    FunctionJudge,
    always_first_judge,
    longer_wins_judge,
    oracle_judge,
    random_judge,
)
from evaluation.bestofn import BestOfNGroup, evaluate_best_of_n, round_robin
from evaluation.bias import run_bias_suite
from evaluation.evaluate import evaluate
from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from tests.factories import pairwise_task

TASK = pairwise_task("pref", description="Answer A or B.")
TASKS = {TASK.name: TASK}


def make_examples(n=40, seed=0):
    """The better response is 'good ...'; it is the longer one in exactly half the items."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        good, bad = f"good answer {i}", f"bad answer {i}"
        if i % 2:
            good += " with many extra words of detail"
        else:
            bad += " with many extra words of padding"
        label = rng.choice("AB")
        a, b = (good, bad) if label == "A" else (bad, good)
        out.append(
            Example(
                task="pref",
                context={"question": f"q{i}", RESPONSE_A: a, RESPONSE_B: b},
                label=label,
                id=f"e{i}",
            )
        )
    return out


def _good_slot(example):
    return "A" if str(example.context[RESPONSE_A]).split(": ")[-1].startswith("good") else "B"


def correct_rule(task, example):
    return _good_slot(example)


def bandwagon_rule(task, example):
    question = str(example.context["question"])
    for slot in "AB":
        if f"believe that Response {slot} is better" in question:
            return slot
    return _good_slot(example)


def test_unbiased_judge_passes_every_probe():
    result = run_bias_suite(FunctionJudge(correct_rule), TASKS, make_examples())
    biases = result["biases"]
    assert biases["order"]["value"] == 0 and biases["compassion"]["value"] == 0
    assert biases["length"]["value"] == pytest.approx(0.0)
    assert biases["bandwagon"]["value"] == 0 and biases["attention"]["value"] == 0
    assert biases["egocentric"]["applicable"] is False
    assert result["average"] == pytest.approx(0.0)
    assert biases["order"]["random_baseline"] == 0.5


def test_always_first_judge_has_order_bias():
    biases = run_bias_suite(always_first_judge(), TASKS, make_examples())["biases"]
    assert biases["order"]["value"] == 1.0 and biases["order"]["first"] == 1.0
    assert biases["compassion"]["value"] == 1.0
    assert biases["length"]["counted"] == 0  # no consistent comparison left


def test_longer_judge_has_length_bias():
    biases = run_bias_suite(longer_wins_judge(), TASKS, make_examples())["biases"]
    assert biases["order"]["value"] == 0
    assert biases["length"]["long_bias"] == 1.0 and biases["length"]["value"] == 0.5


def test_bandwagon_follower_flagged():
    biases = run_bias_suite(FunctionJudge(bandwagon_rule), TASKS, make_examples())["biases"]
    assert biases["bandwagon"]["value"] == 1.0
    assert biases["attention"]["value"] == 0 and biases["order"]["value"] == 0


def test_random_judge_near_cobbler_baselines():
    biases = run_bias_suite(random_judge(seed=1), TASKS, make_examples(400))["biases"]
    # A uniform 3-way draw per order: first-slot twice 1/9 + second twice 1/9.
    assert biases["order"]["value"] == pytest.approx(2 / 9, abs=0.07)
    assert biases["bandwagon"]["value"] == pytest.approx(1 / 9, abs=0.07)


def test_egocentric_with_own_mapping():
    examples = make_examples()
    own = {e.id: _good_slot(e) for e in examples[:10]}
    own.update({e.id: "B" if _good_slot(e) == "A" else "A" for e in examples[10:20]})
    result = run_bias_suite(FunctionJudge(correct_rule), TASKS, examples, own=own)
    assert result["biases"]["egocentric"]["value"] == pytest.approx(0.5)
    assert result["biases"]["egocentric"]["n"] == 20


def test_evaluate_keeps_keys_and_adds_position():
    report = evaluate(always_first_judge(), TASKS, make_examples())
    assert {"accuracy", "n", "per_task", "consistency", "invalid"} <= set(report)
    assert report["consistency"] == 0.0
    assert report["position"]["prefer_first"] == 1.0 and report["position"]["total_bias"] == 1.0
    assert set(report["per_task"]["pref"]) >= {"accuracy", "n", "invalid", "macro_f1"}
    assert evaluate(oracle_judge(), TASKS, make_examples())["accuracy"] == 1.0


def quality_rule(task, example):
    """Knows each candidate's quality (the number after 'q=')."""
    a = int(str(example.context[RESPONSE_A]).split("q=")[1])
    b = int(str(example.context[RESPONSE_B]).split("q=")[1])
    return "A" if a > b else "B"


def test_round_robin_picks_the_known_best():
    candidates = [f"candidate q={q}" for q in (3, 9, 1, 5, 7)]
    result = round_robin(FunctionJudge(quality_rule), TASK, {"question": "x"}, candidates)
    assert result.best == 1 and result.ranking == [1, 4, 3, 0, 2]
    assert result.scores == [1.0, 4.0, 0.0, 2.0, 3.0]
    groups = [
        BestOfNGroup(
            "pref",
            {"question": f"x{g}"},
            [f"c q={q}" for q in random.Random(g).sample(range(20), 4)],
            set(),
        )
        for g in range(6)
    ]
    for group in groups:
        qualities = [int(c.split("q=")[1]) for c in group.candidates]
        group.best = {qualities.index(max(qualities))}
    out = evaluate_best_of_n(FunctionJudge(quality_rule), TASKS, groups)
    assert out["accuracy"] == 1.0 and out["random_expected"] == pytest.approx(0.25)


def test_inconsistent_pairs_count_half_and_ties_break_by_probability():
    # Always A: every pair is inconsistent (first slot both times) -> 0.5 each.
    result = round_robin(always_first_judge(), TASK, {"question": "x"}, ["a", "b", "c"])
    assert result.scores == [1.0, 1.0, 1.0]
    assert all(g["outcome"] == "half" for g in result.games)

    def leaning(task, example):  # inconsistent, but leans toward the candidate "pref"
        lean = 0.2 if "pref" in str(example.context[RESPONSE_A]) else 0.0
        return {"A": 0.6 + lean, "B": 0.4 - lean}

    result = round_robin(FunctionJudge(leaning), TASK, {"question": "x"}, ["a", "pref", "c"])
    assert result.scores == [1.0, 1.0, 1.0] and result.best == 1
