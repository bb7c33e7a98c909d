import gzip
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import alpaca_eval_judgments as ae
from judging.task_format import Example

FORMAT = "alpaca-eval-judgments"
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / FORMAT
COMMIT = "cd543a149df89434d8a54582c0151c0b945c3d20"


def _pair(instruction, preference, annotator="alpaca_eval_gpt4", **extra):
    return {
        "instruction": instruction,
        "dataset": "helpful_base",
        "output_1": f"{instruction} reference answer",
        "output_2": f"{instruction} model answer",
        "generator_1": "text_davinci_003",
        "generator_2": "claude-2",
        "preference": preference,
        "annotator": annotator,
        "source_file": "results/claude-2/alpaca_eval_gpt4/annotations.json",
        "source_commit": COMMIT,
        **extra,
    }


HUMAN = {
    "instruction": "Name a colour.",
    "dataset": "alpaca",
    "output_1": "Red.",
    "output_2": "",  # edge case: an empty answer
    "generator_1": None,
    "generator_2": None,
    "preference": 1,
    "annotator": "alpaca_farm_human",
    "human_annotator_index": 11,
    "datasplit": "reward",
    "llm_preference": 1.0,
    "llm_annotator": "claude",
    "source_file": "results_evaluators/tmp_test/tmp_test/annotation.json",
    "source_commit": "9752edf6ffcea3293a788c9ce2ddc7fd4a30b287",
}


def _write(path: Path, records) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def _id(stem, record):
    triple = "\0".join((record["instruction"], record["output_1"], record["output_2"]))
    return f"{FORMAT}/{stem}/{hashlib.sha1(triple.encode()).hexdigest()[:16]}"


def test_llm_judge_labels(tmp_path):
    other = [{"annotator": "claude", "preference": 1, "source_file": "results/x.json"}]
    records = [
        _pair("Q1", 2, other_judgments=other),
        _pair("Q2", 1.0),
        _pair("Q3", 1.27, annotator="weighted_alpaca_eval_gpt4_turbo"),
        _pair("Q4", 1.5, annotator="weighted_alpaca_eval_gpt4_turbo"),  # edge: exact tie
        _pair(
            "Q5",
            1,
            annotator="alpaca_eval_cot_gpt4_turbo_fn",
            explanation="Model 'm' is better.",
            explanation_labels={"M": "output_2", "m": "output_1"},
        ),
    ]
    path = _write(tmp_path / "pairs.jsonl.gz", records)
    examples = list(ae.convert_file(path))
    assert [e.label for e in examples] == ["B", "A", "A", "tie", "A"]
    assert {e.task for e in examples} == {f"{FORMAT}/preference-llm-judge"}
    assert examples[0] == Example(
        task=f"{FORMAT}/preference-llm-judge",
        id=_id("pairs", records[0]),
        context={
            "instruction": "Q1",
            "response A": "Q1 reference answer",
            "response B": "Q1 model answer",
        },
        label="B",
        provenance={
            "source": FORMAT,
            "license": "CC BY-NC 4.0",
            "label_source": "llm-judge",
            "annotator": "alpaca_eval_gpt4",
            "preference": 2,
            "generator_a": "text_davinci_003",
            "generator_b": "claude-2",
            "dataset": "helpful_base",
            "source_file": "results/claude-2/alpaca_eval_gpt4/annotations.json",
            "source_commit": COMMIT,
            "other_judgments": other,
        },
    )
    assert examples[2].provenance["p_response_b_better"] == 0.27
    assert examples[2].provenance["preference"] == 1.27
    assert "p_response_b_better" not in examples[1].provenance
    assert examples[4].provenance["explanation"] == "Model 'm' is better."
    assert examples[4].provenance["explanation_labels"] == {"M": "output_2", "m": "output_1"}


def test_human_file_is_a_separate_task(tmp_path):
    path = _write(tmp_path / "human.jsonl.gz", [HUMAN])
    [example] = ae.convert_file(path)
    assert example.task == f"{FORMAT}/preference-human"
    assert example.id == _id("human", HUMAN)
    assert example.label == "A"
    assert example.context["response B"] == ""
    assert example.provenance["label_source"] == "human"
    assert example.provenance["license"] == "CC BY-NC 4.0"
    assert example.provenance["split"] == "reward"
    assert example.provenance["human_annotator_index"] == 11
    assert example.provenance["llm_preference"] == 1.0


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (_pair("Q9", None), "preference", "not a number"),
        (_pair("Q9", -1), "preference", r"outside \[1, 2\]"),
        (_pair("Q9", "2"), "preference", "not a number"),
        ({k: v for k, v in _pair("Q9", 1).items() if k != "output_2"}, "output_2", "missing"),
        (_pair("Q9", 1, annotator="alpaca_farm_human"), "annotator", "LLM-judge"),
        (_pair("Q1", 1), "instruction", "duplicate"),
    ],
)
def test_bad_line_names_file_line_and_field(tmp_path, record, field, reason):
    path = _write(tmp_path / "pairs.jsonl.gz", [_pair("Q1", 2), record])
    with pytest.raises(ConversionError, match=reason) as caught:
        list(ae.convert_file(path))
    assert (caught.value.path, caught.value.record, caught.value.field) == (str(path), 2, field)
    assert f"{path}: line 2: field {field!r}" in str(caught.value)


def test_corrupt_gzip_is_an_error(tmp_path):
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(_pair("Q1", 1)).encode() + b"\n")[:-12])
    with pytest.raises(ConversionError, match="cannot read"):
        list(ae.convert_file(path))


def test_real_folder_counts():
    if not DATA.exists():
        pytest.skip(f"{DATA} not available")
    _, examples = convert(FORMAT, [DATA])
    counts = Counter()
    by_annotator = Counter()
    for example in examples:
        counts[example.task, example.provenance["label_source"]] += 1
        by_annotator[example.provenance["annotator"], example.label] += 1
    assert counts == {
        (f"{FORMAT}/preference-llm-judge", "llm-judge"): 65320,
        (f"{FORMAT}/preference-human", "human"): 4,
    }
    # The MANIFEST's annotator table: output_1 preferred / output_2 preferred / tie.
    assert by_annotator["weighted_alpaca_eval_gpt4_turbo", "A"] == 23933
    assert by_annotator["weighted_alpaca_eval_gpt4_turbo", "B"] == 2382
    assert by_annotator["weighted_alpaca_eval_gpt4_turbo", "tie"] == 5
    assert by_annotator["alpaca_eval_gpt4", "B"] == 21650
    assert by_annotator["claude", "A"] + by_annotator["bedrock_claude", "A"] == 2333 + 88
