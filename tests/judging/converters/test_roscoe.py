import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import roscoe as converter

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "roscoe"

PREAMBLE = 'For this task, you will be shown a CONTEXT with a "Question" and a "Solution".\n\n'
PROBLEM = "Question: Janet has 2 eggs and buys 3. How many?\n\\Solution: 2 + 3 = 5\nA: 5"
RESPONSE = "Step 1 - 2 + 3 = 6\nStep 2 - A: 6"
OVERALL_METRICS = ["Overall Quality", "Coherency", "Missing Steps", "Contradiction"]
STEP_METRICS = list(converter.STEP_TASKS)


def _rating(value):
    rating = {"majority_human": value, "individual_human_scores": [value]}
    if isinstance(value, int):
        rating["mean_human"] = value
    return rating


def _overall(instances):
    return {
        "dataset": "roscoe-gsm8k-overall (Golovneva et al., ICLR 2023)",
        "dataset_url": "https://example.org",
        "expert_annotator": "true",
        "original_prompt": True,
        "annotations": [{"metric": m, "category": "graded"} for m in OVERALL_METRICS],
        "instances": instances,
    }


def _overall_instance(id_, quality, coherency, missing, contradiction):
    text = f"{PREAMBLE}CONTEXT:\n{PROBLEM}\n\nGENERATED RESPONSE:\n{RESPONSE}\n"
    values = [quality, coherency, missing, contradiction]
    return {
        "id": id_,
        "instance": text + "Judge the generated response:\n",
        "annotations": {m: _rating(v) for m, v in zip(OVERALL_METRICS, values, strict=True)},
    }


def _step_instance(id_, step, yes_metrics):
    text = f"{PREAMBLE}CONTEXT:\n{PROBLEM}\n\nGENERATED RESPONSE:\n{RESPONSE}\nJUDGE: {step}\n"
    ratings = {m: _rating("yes" if m in yes_metrics else "no") for m in STEP_METRICS}
    return {"id": id_, "instance": text, "annotations": ratings}


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_fixture_examples(tmp_path):
    _write(
        tmp_path,
        "roscoe-gsm8k-overall.json",
        _overall(
            [_overall_instance(1, 2, 5, "yes", "no"), _overall_instance(2, 1, 1, "no", "yes")]
        ),
    )
    stepwise = _overall(
        [
            _step_instance(1, "Step 1 - 2 + 3 = 6", {"Arithmetic", "Factuality"}),
            _step_instance(2, "Step 2 - A: 6", {"Final Answer"}),
        ]
    )
    stepwise["annotations"] = [{"metric": m, "category": "categorical"} for m in STEP_METRICS]
    _write(tmp_path, "roscoe-gsm8k-stepwise.json", stepwise)
    (tmp_path / "README.md").write_text("not data")

    tasks, stream = convert("roscoe", [tmp_path])
    examples = list(stream)
    assert len(tasks) == 13
    assert len(examples) == 2 * 4 + 2 * 9
    by_id = {e.id: e for e in examples}
    assert len(by_id) == len(examples)

    assert [(e.task, e.label) for e in examples[:4]] == [
        ("roscoe/overall-quality", "2"),
        ("roscoe/coherency", "5"),
        ("roscoe/missing-steps", "yes"),
        ("roscoe/contradiction", "no"),
    ]
    quality = by_id["roscoe/gsm8k-overall/2/overall-quality"]
    assert quality.label == "1"
    assert quality.context == {"problem": PROBLEM, "generated response": RESPONSE}
    assert quality.label_distribution is None
    assert quality.provenance["dataset"] == "gsm8k"
    assert quality.provenance["license"] == "MIT"

    step = by_id["roscoe/gsm8k-stepwise/1/step-arithmetic"]
    assert step.task == "roscoe/step-arithmetic"
    assert step.label == "yes"
    assert step.context == {
        "problem": PROBLEM,
        "generated response": RESPONSE,
        "step": "Step 1 - 2 + 3 = 6",
    }
    assert step.provenance["step"] == 1
    assert by_id["roscoe/gsm8k-stepwise/1/step-grammar"].label == "no"
    assert by_id["roscoe/gsm8k-stepwise/2/step-final-answer"].label == "yes"
    assert by_id["roscoe/gsm8k-stepwise/2/step-final-answer"].provenance["step"] == 2
    assert Counter(e.label for e in examples if e.id.startswith("roscoe/gsm8k-stepwise/")) == {
        "yes": 3,
        "no": 15,
    }


@pytest.mark.parametrize(
    ("metric", "value", "reason"),
    [
        ("Overall Quality", 6, "not an integer 1-5"),
        ("Coherency", "5", "not an integer 1-5"),
        ("Contradiction", "maybe", "is not 'yes' or 'no'"),
    ],
)
def test_bad_rating_raises(tmp_path, metric, value, reason):
    bad = _overall_instance(7, 3, 3, "no", "no")
    bad["annotations"][metric] = _rating(value)
    path = _write(
        tmp_path,
        "roscoe-drop-overall.json",
        _overall([_overall_instance(1, 3, 3, "no", "no"), bad]),
    )
    with pytest.raises(ConversionError) as caught:
        list(convert("roscoe", [path])[1])
    message = str(caught.value)
    assert str(path) in message and "record 1 (id 7)" in message
    assert repr(f"annotations.{metric}") in message and reason in message


def test_missing_metric_and_section_raise(tmp_path):
    instance = _overall_instance(1, 3, 3, "no", "no")
    del instance["annotations"]["Missing Steps"]
    path = _write(tmp_path, "roscoe-esnli-overall.json", _overall([instance]))
    with pytest.raises(ConversionError, match="field 'annotations.Missing Steps': missing"):
        list(converter.convert_file(path))
    instance = _overall_instance(1, 3, 3, "no", "no")
    instance["instance"] = "no sections here"
    path = _write(tmp_path, "roscoe-esnli-overall.json", _overall([instance]))
    with pytest.raises(ConversionError, match="record 0 \\(id 1\\): field 'instance'"):
        list(converter.convert_file(path))


def test_real_data_counts():
    if not DATA.is_dir():
        pytest.skip("shared/data/roscoe is absent")
    _, stream = convert("roscoe", [DATA])
    counts = Counter()
    ids = set()
    instances = Counter()
    for example in stream:
        counts[example.task] += 1
        ids.add(example.id)
        if example.task in ("roscoe/overall-quality", "roscoe/step-grammar"):
            instances[(example.provenance["dataset"], example.provenance["level"])] += 1
    assert counts == {
        **{task.name: 756 for task in converter.OVERALL_TASKS.values()},
        **{task.name: 2014 for task in converter.STEP_TASKS.values()},
    }
    assert len(ids) == sum(counts.values())
    assert instances == {
        ("cosmos", "overall"): 195,
        ("drop", "overall"): 210,
        ("esnli", "overall"): 151,
        ("gsm8k", "overall"): 200,
        ("cosmos", "stepwise"): 410,
        ("drop", "stepwise"): 451,
        ("esnli", "stepwise"): 272,
        ("gsm8k", "stepwise"): 881,
    }
