"""The `python -m judging convert` command line, over every dataset folder and a generic CSV."""

import json
from pathlib import Path

import pytest

from judging.__main__ import main
from judging.converters import available_formats
from judging.task_format import read_jsonl

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def test_every_shared_dataset_folder_has_a_converter():
    if not SHARED.exists():
        pytest.skip("../shared/data is not present")
    folders = {path.name for path in SHARED.iterdir() if path.is_dir()}
    assert folders <= set(available_formats())


def test_csv_with_a_column_map_through_the_cli(tmp_path, capsys):
    task = {
        "name": "team/helpful",
        "type": "classification",
        "title": "Helpful?",
        "description": "yes or no",
        "context_fields": ["question", "answer"],
        "output_fields": ["answer"],
        "labels": ["yes", "no"],
    }
    (tmp_path / "task.json").write_text(json.dumps(task))
    (tmp_path / "data.csv").write_text("q,a,y\nHi?,Hello,yes\nWhy?,Because,no\n")
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "convert",
            "csv-columns",
            str(tmp_path / "data.csv"),
            "-o",
            str(out),
            "--option",
            f"task={tmp_path / 'task.json'}",
            "--option",
            "columns=question:q,answer:a,label:y",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["per_task"] == {"team/helpful": 2}
    tasks, examples = read_jsonl(out)
    assert [e.label for e in examples] == ["yes", "no"]


def test_a_bad_record_leaves_no_output(tmp_path, capsys):
    (tmp_path / "summedits_x.json").write_text(
        json.dumps(
            [
                {"id": "1", "doc": "d", "summary": "s", "label": 1},
                {"id": "2", "doc": "d", "summary": "t", "label": 7},
            ]
        )
    )
    out = tmp_path / "out.jsonl"
    assert main(["convert", "summedits", str(tmp_path), "-o", str(out)]) == 2
    assert "record 1: field 'label'" in capsys.readouterr().err
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial"))


def test_unknown_format_is_a_clear_error(tmp_path, capsys):
    assert main(["convert", "nope", str(tmp_path), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "unknown format 'nope'; known: " in capsys.readouterr().err
