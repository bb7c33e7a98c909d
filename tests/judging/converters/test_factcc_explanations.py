import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import factcc_explanations as converter

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "factcc-explanations"
NAME = "factcc_explanation_annotation.json"


def _sample(reason_idx, model, annotation, explanation="No. The summary negates the fact."):
    return {
        "reason_idx": reason_idx,
        "prediction": 0,
        "model": model,
        "prompt": "fewshot-gwe-prompt1",
        "annotation": annotation,
        "explanation": explanation,
    }


RECORDS = [
    {
        "id": "32300952",
        "doc": "That was twice the UK average rise of 7%.",
        "summary": "That wasn't twice the UK average rise of 7%.",
        "samples": [_sample(32, "dav003", "unrelated"), _sample(14, "gpt4", "correct")],
    },
    {
        "id": "777",
        "doc": "The girls will complete tasks.",
        "summary": "The girls will not complete tasks.",
        "samples": [_sample(3, "bab001", "no_explanation", "No.")],
    },
]


def test_fixture_examples(tmp_path):
    (tmp_path / NAME).write_text(json.dumps(RECORDS), encoding="utf-8")
    tasks, stream = convert("factcc-explanations", [tmp_path])
    examples = list(stream)
    assert list(tasks) == ["factcc-explanations/explanation-quality"]
    assert [(e.id, e.label) for e in examples] == [
        ("factcc-explanations/32300952/32", "unrelated"),
        ("factcc-explanations/32300952/14", "correct"),
        ("factcc-explanations/777/3", "no_explanation"),
    ]
    first = examples[0]
    assert first.context == {
        "document": "That was twice the UK average rise of 7%.",
        "summary": "That wasn't twice the UK average rise of 7%.",
        "explanation": "No. The summary negates the fact.",
    }
    assert first.provenance["model"] == "dav003"
    assert first.provenance["license"] == "Apache-2.0"
    assert examples[2].context["explanation"] == "No."


@pytest.mark.parametrize(
    ("field", "value"),
    [("annotation", "mostly_correct"), ("model", None), ("explanation", 7)],
)
def test_malformed_sample_raises(tmp_path, field, value):
    records = json.loads(json.dumps(RECORDS))
    records[1]["samples"][0][field] = value
    path = tmp_path / NAME
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(ConversionError) as caught:
        list(convert("factcc-explanations", [path])[1])
    message = str(caught.value)
    assert str(path) in message and "record 1 samples[0]" in message and repr(field) in message


def test_missing_doc_raises(tmp_path):
    records = json.loads(json.dumps(RECORDS))
    del records[0]["doc"]
    path = tmp_path / NAME
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(ConversionError, match="record 0: field 'doc'"):
        list(converter.convert_file(path))


def test_real_data_counts():
    if not DATA.is_dir():
        pytest.skip("shared/data/factcc-explanations is absent")
    _, stream = convert("factcc-explanations", [DATA])
    examples = list(stream)
    assert len({e.id for e in examples}) == len(examples) == 3643
    assert Counter(e.label for e in examples) == {
        "unrelated": 1685,
        "correct": 1098,
        "no_explanation": 406,
        "incorrect": 328,
        "partially_correct": 126,
    }
    assert len({e.provenance["doc_id"] for e in examples}) == 125
    assert len({e.provenance["model"] for e in examples}) == 16
