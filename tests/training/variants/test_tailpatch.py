"""Tail-patch (FLAMe, arXiv 2407.10817 section 4.3): ratings, bundles, weights; real probes
on a constructed case."""

import json
import math

import pytest

from judging.task_format import write_jsonl
from tests.training.variants.examples import EASY, FLIPPED, TASKS, easy_examples
from training import __main__ as training_cli
from training.config import TrainConfig
from training.loop import train
from training.variants.tailpatch import tailpatch, tailpatch_probe
from training.variants.tailpatch_plan import (
    W_GENERAL,
    W_OTHERS,
    W_SPECIFIC,
    W_TOP_SPECIFIC,
    rate_effect,
    tailpatch_plan,
    tailpatch_weights,
)


def _probe(task, deltas, base=0.5, unstable=()):
    categories = {}
    for category, delta in deltas.items():
        mid = base - 0.02 if category in unstable else base + delta / 2
        categories[category] = {
            "base": base,
            "after": base + delta,
            "delta": delta,
            "curve": [[50, mid], [100, base + delta]],
            "n": 100,
        }
    return {"task": task, "steps": 100, "categories": categories}


def test_rate_effect():
    assert rate_effect(0.5, [[1, 0.58], [2, 0.6]], 0.05, 0.01) == 2
    assert rate_effect(0.5, [[1, 0.45], [2, 0.6]], 0.05, 0.01) == 1  # not stable
    assert rate_effect(0.5, [[1, 0.5], [2, 0.52]], 0.05, 0.01) == 1
    assert rate_effect(0.5, [[1, 0.5], [2, 0.505]], 0.05, 0.01) == 0
    assert rate_effect(0.5, [[1, 0.5], [2, 0.44]], 0.05, 0.01) == -1


def test_plan_bundles_and_weights():
    cats = ("chat", "math", "safety")
    probes = [
        _probe("everywhere", {c: 0.1 for c in cats}),  # +2 x3 = 6 >= 3: general + 3 specific
        _probe("math_only", {"chat": 0.0, "math": 0.2, "safety": 0.0}),
        _probe("math_wobbly", {"chat": 0.0, "math": 0.2, "safety": 0.0}, unstable={"math"}),
        _probe("harmful", {"chat": -0.2, "math": -0.1, "safety": 0.0}),
        _probe("neutral", {c: 0.0 for c in cats}),
    ]
    plan = tailpatch_plan(probes)
    assert plan["ratings"]["everywhere"] == {c: 2 for c in cats}
    assert plan["ratings"]["math_wobbly"]["math"] == 1
    assert plan["ratings"]["harmful"] == {"chat": -1, "math": -1, "safety": 0}
    assert plan["bundles"]["general"] == ["everywhere"]
    assert plan["bundles"]["category:math"] == ["everywhere", "math_only"]
    assert plan["bundles"]["category:chat"] == ["everywhere"]
    assert plan["bundles"]["others"] == ["harmful", "math_wobbly", "neutral"]
    raw = plan["raw_weights"]
    assert raw["everywhere"] == W_GENERAL + 3 * W_SPECIFIC
    assert raw["math_only"] == W_SPECIFIC
    assert raw["harmful"] == raw["neutral"] == raw["math_wobbly"] == W_OTHERS
    weights = plan["weights"]
    assert math.isclose(sum(weights.values()), 1.0)
    assert weights["everywhere"] > weights["math_only"] > weights["harmful"] > 0
    assert weights == tailpatch_weights(probes)

    # Weak category: its top two tasks get at least w_top_specific; a tau threshold replaces
    # the "rated helpful" rule for that category's bundle.
    weak = tailpatch_plan(probes, weak_categories=["math"], thresholds={"chat": 0.49})
    assert weak["top_specific"] == {"math": ["math_only", "everywhere"]}
    assert weak["raw_weights"]["math_only"] == W_TOP_SPECIFIC
    assert weak["bundles"]["category:chat"] == ["everywhere", "math_only", "math_wobbly", "neutral"]
    with pytest.raises(ValueError, match="unknown category"):
        tailpatch_plan(probes, weak_categories=["code"])
    with pytest.raises(ValueError, match="no probe results"):
        tailpatch_plan([])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A base that has learned EASY in one surface form and the opposite answer in the other
    (so it is near 0.5 on EASY): tail-patching on EASY helps EASY, and on FLIPPED (rendered
    exactly like EASY, with the other answer) harms it."""
    tasks = {EASY.name: TASKS[EASY.name], FLIPPED.name: TASKS[FLIPPED.name]}
    examples = easy_examples(EASY, 300, seed=1) + easy_examples(FLIPPED, 300, seed=2, flip=True)
    half = easy_examples(EASY, 300, seed=3, flip_forms=(1,))
    config = TrainConfig.preset("smoke", steps=40, batch_size=16, learning_rate=3e-3)
    base = train(tasks, half, config, tmp_path_factory.mktemp("tp") / "base").checkpoint_dir
    return tasks, examples, base


def test_probe_and_weights_on_a_constructed_case(tmp_path, setup):
    tasks, examples, base = setup
    config = TrainConfig.preset(
        "smoke", steps=40, batch_size=16, learning_rate=3e-3, warmup_steps=2, log_every=20
    )
    targets = {"easy": [EASY.name]}
    result = tailpatch(base, tasks, examples, config, tmp_path / "tp", targets)
    probes = {p["task"]: p for p in result["probes"]}
    helpful = probes[EASY.name]["categories"]["easy"]
    harmful = probes[FLIPPED.name]["categories"]["easy"]
    print(f"\ntailpatch: base {result['base']}, EASY {helpful}, FLIPPED {harmful}")
    assert helpful["base"] == harmful["base"] == result["base"]["easy"]["accuracy"]
    assert [point[0] for point in helpful["curve"]] == [20, 40]
    assert helpful["n"] == harmful["n"] > 20
    assert 0.2 <= helpful["base"] <= 0.8
    assert helpful["delta"] >= 0.2 and harmful["delta"] <= -0.2
    assert result["ratings"] == {EASY.name: {"easy": 2}, FLIPPED.name: {"easy": -1}}
    assert result["bundles"]["general"] == [EASY.name]
    assert result["bundles"]["others"] == [FLIPPED.name]
    weights = result["weights"]
    assert math.isclose(sum(weights.values()), 1.0)
    assert weights[EASY.name] > 10 * weights[FLIPPED.name]
    saved = json.loads((tmp_path / "tp" / "tailpatch.json").read_text())
    assert saved["weights"] == weights
    # Probe checkpoints are removed; each probe's table is kept.
    assert not list((tmp_path / "tp").glob("*/step-*"))
    assert len(list((tmp_path / "tp").glob("*/probe.json"))) == 2

    with pytest.raises(ValueError, match="unknown task"):
        tailpatch_probe(base, "nope", tasks, examples, config, tmp_path / "x")
    with pytest.raises(ValueError, match="unknown task"):
        tailpatch_probe(
            base, EASY.name, tasks, examples, config, tmp_path / "x", targets={"c": ["nope"]}
        )


def test_tailpatch_cli(tmp_path, capsys, setup):
    tasks, examples, base = setup
    path = tmp_path / "data.jsonl"
    write_jsonl(path, tasks.values(), examples)
    out = tmp_path / "cli"
    code = training_cli.main(
        [
            "tailpatch",
            "--base",
            str(base),
            "--data",
            str(path),
            "--out",
            str(out),
            "--preset",
            "smoke",
            "--steps",
            "2",
            "--eval-points",
            "1",
            "--max-eval",
            "16",
            "--target",
            f"easy={EASY.name}",
            "--probe",
            EASY.name,
            "--set",
            "batch_size=8",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    weights = json.loads((out / "weights.json").read_text())
    assert weights == summary["weights"] and list(weights) == [EASY.name]
    assert math.isclose(sum(weights.values()), 1.0)
    assert summary["base"]["easy"]["n"] == 16
    bad = training_cli.main(
        [
            "tailpatch",
            "--base",
            str(base),
            "--data",
            str(path),
            "--out",
            str(out),
            "--target",
            "easy",
        ]
    )
    assert bad == 2 and "KEY=VALUE" in capsys.readouterr().err
