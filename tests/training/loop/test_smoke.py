import json
import math
import sys
import time

from evaluation.evaluate import evaluate
from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.inference import Judge
from judging.task_format import FORMAT_VERSION, write_jsonl
from training import __main__ as training_cli
from training.config import TrainConfig
from training.loop import TrainResult, train
from training.loop.data import load_snapshot


def test_smoke_train_writes_a_loadable_checkpoint(tmp_path):
    tasks = {t.name: t for t in DEMO_TASKS}
    examples = generate_demo_examples(30, seed=1)
    config = TrainConfig.preset("smoke")
    progress = []
    started = time.monotonic()
    result = train(
        tasks, examples, config, tmp_path / "ckpt", on_progress=lambda *args: progress.append(args)
    )
    elapsed = time.monotonic() - started
    print(f"smoke train: {elapsed:.1f}s", file=sys.stderr)
    assert isinstance(result, TrainResult)
    assert result.steps == config.steps and math.isfinite(result.final_loss)
    assert [p[0] for p in progress] == list(
        range(config.log_every, config.steps + 1, config.log_every)
    )
    assert all(p[1] == config.steps and math.isfinite(p[2]) for p in progress)
    assert result.loss_history == [(p[0], p[2]) for p in progress]

    judge = Judge.load(result.checkpoint_dir)
    assert judge.metadata["format_version"] == FORMAT_VERSION
    assert judge.metadata["steps"] == config.steps
    assert judge.metadata["final_loss"] == result.final_loss
    assert TrainConfig.from_dict(judge.metadata["train_config"]) == config
    verdicts = judge.judge(tasks, examples[:4])
    assert len(verdicts) == 4
    report = evaluate(judge, tasks, examples[:6])
    assert report["n"] == 6 and set(report["per_task"]) == set(tasks)
    assert 0.0 <= report["accuracy"] <= 1.0
    json.dumps(report)


def test_training_cli(tmp_path, capsys):
    data = tmp_path / "snapshot.jsonl"
    write_jsonl(data, DEMO_TASKS, generate_demo_examples(10, seed=2))
    tasks, examples = load_snapshot(data)
    assert len(examples) == 20 and set(tasks) == {t.name for t in DEMO_TASKS}
    out = tmp_path / "model"
    assert (
        training_cli.main(
            ["train", "--data", str(data), "--out", str(out), "--preset", "smoke", "--steps", "2"]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2
    assert training_cli.main(["evaluate", "--model", str(out), "--data", str(data)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 20 and "consistency" in report
