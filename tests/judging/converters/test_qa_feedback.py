import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import qa_feedback as converter

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "qa-feedback"

PASSAGES = [
    ["Bloom", "Bloom\n\nBloom is an album.", "It came out in 2018."],
    ["Troye", "Troye sings."],
]


def _record(**overrides):
    record = {
        "question": "When does Bloom come out?",
        "passages": PASSAGES,
        "gold": "Bloom came out on 31 August 2018.",
        "prediction 1": "Bloom is an album. It came out in 2018. Troye sings.",
        "prediction 2": "p2",
        "prediction 3": "p3",
        "prediction 4": "p4",
        "feedback": {
            "errors": [
                {"error type": "Irrelevant", "explanation": "", "start": 40, "end": 52},
                {"error type": "Redundant", "explanation": "said", "start": 0, "end": 18},
            ],
            "missing-info": [
                {"error type": "Missing-Answer", "passage_id": 1, "sentence_id": [1, 2]}
            ],
            "corrected-prediction": "Bloom came out in 2018.",
        },
        "preference": [0, 1, 2, 1, 0, 2],
    }
    record.update(overrides)
    return record


def _write(tmp_path, records):
    path = tmp_path / "dev_feedback.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_fixture_examples(tmp_path):
    second = _record(
        question="Who sings?",
        feedback={"errors": [], "missing-info": [], "corrected-prediction": ""},
        preference=[1, 1, 1, 1, 1, 1],
    )
    path = _write(tmp_path, [_record(), second])
    tasks, stream = convert("qa-feedback", [tmp_path])
    examples = list(stream)
    assert set(tasks) == {task.name for task in converter.TASKS}
    by_id = {example.id: example for example in examples}
    assert len(by_id) == len(examples) == 6 + 2 + 1 + 1 + 6

    pairs = [e for e in examples if e.task == "qa-feedback/preference"]
    assert [e.id for e in pairs[:6]] == [
        f"qa-feedback/dev/0/pair-{a}v{b}" for a, b in converter.PAIRS
    ]
    assert [e.label for e in pairs[:6]] == ["tie", "A", "B", "A", "tie", "B"]
    assert [e.label for e in pairs[6:]] == ["A"] * 6
    first = by_id["qa-feedback/dev/0/pair-2v4"]
    assert (first.context["response A"], first.context["response B"]) == ("p2", "p4")
    assert first.reference == "Bloom came out on 31 August 2018."
    assert first.context["passages"] == (
        "passage 1 (Bloom): Bloom\n\nBloom is an album. It came out in 2018."
        "\n\npassage 2 (Troye): Troye sings."
    )
    assert first.provenance["license"] == "Apache-2.0"
    assert first.provenance["split"] == "dev"

    span = by_id["qa-feedback/dev/0/error-0"]
    assert span.task == "qa-feedback/error-type"
    assert (span.context["marked span"], span.label) == ("Troye sings.", "Irrelevant")
    redundant = by_id["qa-feedback/dev/0/error-1"]
    assert (redundant.context["marked span"], redundant.label) == (
        "Bloom is an album.",
        "Redundant",
    )
    assert redundant.provenance["explanation"] == "said"

    missing = by_id["qa-feedback/dev/0/missing-0"]
    assert missing.task == "qa-feedback/missing-info"
    assert missing.context["missing information"] == (
        "Bloom\n\nBloom is an album. It came out in 2018."
    )
    assert missing.label == "Missing-Answer"

    corrected = by_id["qa-feedback/dev/0/corrected"]
    assert corrected.task == "qa-feedback/corrected-response"
    assert corrected.label == "Bloom came out in 2018."
    assert corrected.context["response"] == _record()["prediction 1"]
    assert "qa-feedback/dev/1/corrected" not in by_id  # empty correction: no example
    assert path in converter.source_files(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "record", "field"),
    [
        ({"preference": [0, 1, 3, 1, 0, 2]}, "record 1", "preference"),
        ({"gold": None}, "record 1", "gold"),
        (
            {
                "feedback": {
                    "errors": [{"error type": "Typo", "explanation": "", "start": 0, "end": 2}],
                    "missing-info": [],
                    "corrected-prediction": "",
                }
            },
            "record 1 feedback.errors[0]",
            "error type",
        ),
        (
            {
                "feedback": {
                    "errors": [],
                    "missing-info": [
                        {"error type": "Missing-Answer", "passage_id": 3, "sentence_id": [1]}
                    ],
                    "corrected-prediction": "",
                }
            },
            "record 1 feedback.missing-info[0]",
            "passage_id",
        ),
    ],
)
def test_malformed_record_raises(tmp_path, overrides, record, field):
    path = _write(tmp_path, [_record(), _record(**overrides)])
    with pytest.raises(ConversionError) as caught:
        list(convert("qa-feedback", [path])[1])
    message = str(caught.value)
    assert str(path) in message and record in message and repr(field) in message


def test_missing_field_raises(tmp_path):
    record = _record()
    del record["prediction 3"]
    path = _write(tmp_path, [record])
    with pytest.raises(ConversionError, match="record 0: field 'prediction 3': missing"):
        list(converter.convert_file(path))


def test_real_data_counts():
    if not DATA.is_dir():
        pytest.skip("shared/data/qa-feedback is absent")
    _, stream = convert("qa-feedback", [DATA])
    counts = Counter()
    labels = Counter()
    ids = set()
    for example in stream:
        counts[example.task] += 1
        labels[(example.task, example.label)] += example.task != "qa-feedback/corrected-response"
        ids.add(example.id)
    assert counts == {
        "qa-feedback/preference": 3000,
        "qa-feedback/error-type": 1373,
        "qa-feedback/missing-info": 842,
        "qa-feedback/corrected-response": 487,
    }
    assert len(ids) == sum(counts.values())
    preference = {k[1]: v for k, v in labels.items() if k[0] == "qa-feedback/preference"}
    assert preference == {"A": 1577, "B": 1039, "tie": 384}
    errors = {k[1]: v for k, v in labels.items() if k[0] == "qa-feedback/error-type"}
    assert errors == {
        "Irrelevant": 909,
        "Wrong-Grounding": 163,
        "Unverifiable": 152,
        "Redundant": 133,
        "Incoherent": 16,
    }
    missing = {k[1]: v for k, v in labels.items() if k[0] == "qa-feedback/missing-info"}
    assert missing == {
        "Missing-Answer": 240,
        "Missing-Major-Auxiliary": 283,
        "Missing-Minor-Auxiliary": 319,
    }
