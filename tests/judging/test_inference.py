import json
import math

import numpy as np
import pytest

from judging import __main__ as judging_cli
from judging.checkpoint import save_checkpoint
from judging.inference import Judge, Verdict, bucket_length
from judging.task_format import (
    FORMAT_VERSION,
    Example,
    Task,
    TaskType,
    swap_pairwise,
    write_jsonl,
)

SENTIMENT = Task(
    "sentiment",
    TaskType.CLASSIFICATION,
    "Sentiment",
    "Is the text positive?",
    ("text",),
    ("label",),
    ("A", "B"),
)


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory, tiny_model, demo_tokenizer):
    model, config = tiny_model
    directory = tmp_path_factory.mktemp("judge") / "ckpt"
    save_checkpoint(directory, model, config, demo_tokenizer, {"steps": 0})
    return directory


@pytest.fixture(scope="module")
def judge(judge_dir):
    return Judge.load(judge_dir)


def test_bucket_lengths_are_few_and_cover():
    buckets = {bucket_length(n, 1024) for n in range(1, 1025)}
    assert buckets == {16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024}
    assert all(bucket_length(n, 1024) >= n for n in range(1, 1025))
    assert bucket_length(5000, 256) == 256


def test_both_orders_bookkeeping(judge, demo_tasks, demo_examples):
    examples = demo_examples[:10]
    verdicts = judge.judge(demo_tasks, examples, both_orders=True, batch_size=4)
    assert [v.example_id for v in verdicts] == [e.id for e in examples]
    one_order = judge.judge(demo_tasks, examples, both_orders=False)
    swapped = judge.judge(demo_tasks, [swap_pairwise(e) for e in examples], both_orders=False)
    for v, single, swap in zip(verdicts, one_order, swapped, strict=True):
        assert isinstance(v, Verdict) and v.format_version == FORMAT_VERSION
        assert set(v.order_probabilities) == {"ab", "ba"}
        assert math.isclose(sum(v.probabilities.values()), 1.0, rel_tol=1e-5)
        # "ab" is the order as given; "ba" is the swapped order mapped back to the A/B frame.
        for label in ("A", "B", "tie"):
            assert v.order_probabilities["ab"][label] == pytest.approx(
                single.probabilities[label], abs=1e-5
            )
        assert v.order_probabilities["ba"]["A"] == pytest.approx(swap.probabilities["B"], abs=1e-5)
        assert v.order_probabilities["ba"]["tie"] == pytest.approx(
            swap.probabilities["tie"], abs=1e-5
        )
        for label in ("A", "B", "tie"):
            mean = (v.order_probabilities["ab"][label] + v.order_probabilities["ba"][label]) / 2
            assert v.probabilities[label] == pytest.approx(mean, abs=1e-6)
        picks = {max(p, key=p.get) for p in v.order_probabilities.values()}
        assert v.consistent is (len(picks) == 1)
        assert v.confidence == pytest.approx(max(v.probabilities.values()))
        if v.valid:
            assert v.label == max(v.probabilities, key=v.probabilities.get)
        else:
            assert v.label is None and v.error
        assert single.consistent is None and set(single.order_probabilities) == {"ab"}
        json.dumps(v.to_dict())


def test_batching_and_padding_do_not_change_scores(judge, demo_tasks, demo_examples):
    examples = demo_examples[:9]
    a = judge.judge(demo_tasks, examples, batch_size=2)
    b = judge.judge(demo_tasks, examples, batch_size=16)
    for x, y in zip(a, b, strict=True):
        for label in x.probabilities:
            assert x.probabilities[label] == pytest.approx(y.probabilities[label], abs=1e-5)


def test_classification_and_bad_items(judge, demo_tasks):
    tasks = {**demo_tasks, SENTIMENT.name: SENTIMENT}
    examples = [
        Example("sentiment", {"text": "What a lovely day"}, id="s1"),
        Example("nope", {"text": "x"}, id="u1"),
    ]
    sentiment, unknown = judge.judge(tasks, examples)
    assert sentiment.consistent is None and set(sentiment.order_probabilities) == {"ab"}
    assert sum(sentiment.probabilities.values()) == pytest.approx(1.0)
    assert not unknown.valid and unknown.label is None and "unknown task" in unknown.error
    labels_unknown = Task(
        "odd",
        TaskType.CLASSIFICATION,
        "t",
        "d",
        ("text",),
        ("label",),
        ("zebra crossing", "giraffe neck"),
    )
    (odd,) = judge.judge({"odd": labels_unknown}, [Example("odd", {"text": "x"}, id="o")])
    assert not odd.valid and "single token" in odd.error


def test_judge_cli(tmp_path, judge_dir, demo_tasks, demo_examples, capsys):
    data = tmp_path / "in.jsonl"
    out = tmp_path / "out.jsonl"
    write_jsonl(data, demo_tasks.values(), demo_examples[:4])
    assert (
        judging_cli.main(
            ["judge", "--model", str(judge_dir), "--input", str(data), "--output", str(out)]
        )
        == 0
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["example_id"] for line in lines] == [e.id for e in demo_examples[:4]]
    assert all(set(line["probabilities"]) == {"A", "B", "tie"} for line in lines)
    assert np.isfinite([line["confidence"] for line in lines]).all()
