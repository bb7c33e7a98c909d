import json
from pathlib import Path

import pytest

from evaluation.baselines import FunctionJudge, always_first_judge
from evaluation.report import full_report, write_report
from judging import __main__ as judging_cli
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import read_jsonl, write_jsonl
from training import __main__ as training_cli
from training.config import TrainConfig
from training.loop import train

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_full_report_with_a_rule_judge(tmp_path):
    tasks = {t.name: t for t in DEMO_TASKS}
    examples = [
        e.__class__(**{**e.to_dict(), "provenance": {"category": "chat" if i % 2 else "safety"}})
        for i, e in enumerate(generate_demo_examples(12, seed=3))
    ]
    report = full_report(always_first_judge(), tasks, examples, n_bootstrap=100, seed=1)
    assert report["position"]["prefer_first"] == 1.0
    assert set(report["per_category"]) == {"chat", "safety"}
    assert report["bias"]["biases"]["order"]["value"] == 1.0
    assert set(report["baselines"]) == {
        "random_expected",
        "random",
        "always_first",
        "longer_wins",
        "shorter_wins",
    }
    # The judge *is* the always-first baseline: same items, same accuracy.
    assert report["accuracy"]["value"] == report["baselines"]["always_first"]["accuracy"]
    written = write_report(report, tmp_path / "out")
    names = {p.name for p in written}
    assert {
        "report.json",
        "reliability.png",
        "per_task.png",
        "per_category.png",
        "bias.png",
    } <= names
    assert all(p.stat().st_size > 0 for p in written)
    assert json.loads((tmp_path / "out" / "report.json").read_text())["n"] == 24


def test_pointwise_report_has_correlations_and_weighted_kappa():
    from judging.task_format import Example, Task, TaskType

    task = Task(
        "score", TaskType.POINTWISE, "t", "d", ("text",), ("score",), labels=("1", "2", "3")
    )
    examples = [
        Example(
            "score",
            {"text": str(i)},
            label=str(1 + i % 3),
            id=str(i),
            label_distribution={str(1 + i % 3): 2, str(1 + (i + 1) % 3): 1},
        )
        for i in range(12)
    ]

    def rule(task, example):
        gold = int(example.label)
        return {str(k): (0.7 if k == gold else 0.15) for k in (1, 2, 3)}

    judge = FunctionJudge(rule)
    report = full_report(judge, {"score": task}, examples, n_bootstrap=50, bias=False)
    per = report["per_task"]["score"]
    assert per["accuracy"]["value"] == 1.0 and per["kappa_quadratic"]["value"] == 1.0
    assert per["krippendorff_alpha"]["level"] == "ordinal"
    # FunctionJudge gives no expected_score: no pairs to correlate.
    assert per["pearson"]["n"] == 0


def test_evaluate_command_writes_report_and_pictures(tmp_path, capsys):
    tasks = list(DEMO_TASKS)
    examples = generate_demo_examples(6, seed=5)
    data = [tmp_path / "demo.jsonl"]
    write_jsonl(data[0], tasks, examples)
    if SHARED_DATA.is_dir():
        converted = tmp_path / "summedits_all.jsonl"
        assert (
            judging_cli.main(
                ["convert", "summedits", str(SHARED_DATA / "summedits"), "-o", str(converted)]
            )
            == 0
        )
        se_tasks, se_examples = read_jsonl(converted)
        subset = se_examples[:3] + se_examples[-3:]
        data.append(tmp_path / "summedits.jsonl")
        write_jsonl(data[1], se_tasks.values(), subset)
        tasks += list(se_tasks.values())
        examples += subset
    snapshot = tmp_path / "all.jsonl"
    write_jsonl(snapshot, tasks, examples)
    checkpoint = train(
        {t.name: t for t in tasks}, examples, TrainConfig.preset("smoke"), tmp_path / "model"
    ).checkpoint_dir
    capsys.readouterr()
    out = tmp_path / "report"
    argv = [
        "evaluate",
        "--model",
        str(checkpoint),
        "--data",
        *map(str, data),
        "--report",
        str(out),
        "--bootstrap",
        "100",
    ]
    assert training_cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == len(examples)
    for key in (
        "accuracy",
        "per_task",
        "per_category",
        "calibration",
        "position",
        "baselines",
        "bias",
        "invalid",
        "consistency",
        "pictures",
    ):
        assert key in report
    for picture in report["pictures"]:
        assert (out / picture).read_bytes()[:4] == b"\x89PNG"
    assert {"reliability.png", "per_task.png", "bias.png"} <= set(report["pictures"])
    assert any(p.startswith("confusion_") for p in report["pictures"])
    assert len(printed["files"]) == len(report["pictures"]) + 1
    # Without --report: the old behaviour, evaluate()'s JSON on stdout.
    assert training_cli.main(["evaluate", "--model", str(checkpoint), "--data", str(data[0])]) == 0
    old = json.loads(capsys.readouterr().out)
    assert {"accuracy", "n", "per_task", "consistency", "invalid"} <= set(old)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data absent")
def test_shared_data_located():
    assert (SHARED_DATA / "summedits").is_dir()
