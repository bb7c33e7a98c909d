import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import pairwise_jsonl as pj
from judging.task_format import Example

FORMAT = "pairwise-jsonl"


def _write(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _chosen_is_a(key: str) -> bool:
    return hashlib.sha256(key.encode()).digest()[0] % 2 == 0


def test_converts_with_deterministic_positions(tmp_path):
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    records = [
        {"id": "a1", "prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"id": 7, "prompt": turns, "chosen": "Bye", "rejected": "No"},  # edge: turns, int id
        {"prompt": "Sky colour?", "chosen": "Blue", "rejected": "Green", "meta": 1},  # no id
    ]
    path = _write(tmp_path / "prefs.jsonl", records)
    examples = list(pj.convert_file(path, license="MIT"))
    keys = ["a1", "7", "\0".join([json.dumps("Sky colour?"), "Blue", "Green"])]
    for example, record, key in zip(examples, records, keys, strict=True):
        chosen_is_a = _chosen_is_a(key)
        assert example.label == ("A" if chosen_is_a else "B")
        assert example.context["response A" if chosen_is_a else "response B"] == record["chosen"]
        assert example.context["response B" if chosen_is_a else "response A"] == record["rejected"]
    assert examples[0] == Example(
        task=f"{FORMAT}/preference",
        id=f"{FORMAT}/prefs/a1",
        context={
            "prompt": "2+2?",
            "response A": "4" if _chosen_is_a("a1") else "5",
            "response B": "5" if _chosen_is_a("a1") else "4",
        },
        label="A" if _chosen_is_a("a1") else "B",
        provenance={
            "source": FORMAT,
            "license": "MIT",
            "file": "prefs.jsonl",
            "line": 1,
            "source_id": "a1",
        },
    )
    assert examples[1].id == f"{FORMAT}/prefs/7"
    assert examples[1].context["prompt"] == turns
    assert examples[2].id == f"{FORMAT}/prefs/" + hashlib.sha1(keys[2].encode()).hexdigest()[:16]
    assert examples[2].provenance["source_id"] is None
    assert list(pj.convert_file(path, license="MIT")) == examples


def test_labels_are_balanced(tmp_path):
    records = [{"id": f"r{i}", "prompt": "p", "chosen": "c", "rejected": "r"} for i in range(400)]
    _write(tmp_path / "many.jsonl", records)
    _, examples = convert(FORMAT, [tmp_path])
    labels = Counter(e.label for e in examples)
    assert 160 <= labels["A"] <= 240 and labels["A"] + labels["B"] == 400


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": "x", "prompt": "p", "chosen": "c"}, "rejected"),
        ({"id": "x", "prompt": "p", "chosen": 3, "rejected": "r"}, "chosen"),
        ({"id": "x", "prompt": [{"role": "user"}], "chosen": "c", "rejected": "r"}, "prompt[0]"),
        ({"id": "a1", "prompt": "p", "chosen": "c", "rejected": "r"}, "id"),  # duplicate id
    ],
)
def test_bad_line_names_file_line_and_field(tmp_path, record, field):
    good = {"id": "a1", "prompt": "p", "chosen": "c", "rejected": "r"}
    path = _write(tmp_path / "prefs.jsonl", [good, record])
    with pytest.raises(ConversionError) as caught:
        list(pj.convert_file(path))
    assert (caught.value.record, caught.value.field) == (2, field)
    assert f"{path}: line 2: field {field!r}" in str(caught.value)


def test_bad_json_line(tmp_path):
    path = tmp_path / "prefs.jsonl"
    path.write_text('{"prompt": "p", "chosen": "c", "rejected": "r"}\n{"prompt": \n')
    with pytest.raises(ConversionError, match=r"line 2: field '\(json\)'"):
        list(pj.convert_file(path))
