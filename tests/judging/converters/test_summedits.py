import json
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import summedits as se
from judging.task_format import Example

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
RECORDS = [
    {
        "id": "n1_og",
        "doc": "The cat sat.",
        "summary": "A cat sat.",
        "original_summary": "",
        "label": 1,
        "edit_types": [],
        "split": "evaluation",
    },
    {
        "id": "n1_3",
        "doc": "The cat sat.",
        "summary": "A dog sat.",
        "original_summary": "A cat sat.",
        "label": 0,
        "edit_types": ["entity_modification"],
        "split": "test",
    },
]


def test_converts_records_with_labels_and_provenance(tmp_path):
    path = tmp_path / "summedits_news.json"
    path.write_text(json.dumps(RECORDS))
    tasks, examples = convert("summedits", [tmp_path])
    assert list(tasks) == ["summedits/consistency"]
    examples = list(examples)
    assert [(e.id, e.label) for e in examples] == [
        ("summedits/n1_og", "consistent"),
        ("summedits/n1_3", "inconsistent"),
    ]
    assert examples[1] == Example(
        task="summedits/consistency",
        id="summedits/n1_3",
        context={"document": "The cat sat.", "summary": "A dog sat."},
        label="inconsistent",
        provenance={
            "source": "summedits",
            "domain": "news",
            "split": "test",
            "edit_types": ["entity_modification"],
            "license": "Apache-2.0",
        },
    )


def test_bad_label_names_file_record_and_field(tmp_path):
    path = tmp_path / "summedits_news.json"
    path.write_text(json.dumps([RECORDS[0], {**RECORDS[1], "label": 2}]))
    with pytest.raises(ConversionError, match=r"summedits_news.json: record 1: field 'label': 2"):
        list(se.convert_file(path))


def test_real_files_convert_with_manifest_counts():
    folder = SHARED / "summedits"
    if not folder.exists():
        pytest.skip("../shared/data is not present")
    _, examples = convert("summedits", [folder])
    domains: dict[str, int] = {}
    for example in examples:
        domains[example.provenance["domain"]] = domains.get(example.provenance["domain"], 0) + 1
    assert domains == {
        "news": 819,
        "podcast": 500,
        "samsum": 664,
        "sales_call": 520,
        "sales_email": 613,
    }
