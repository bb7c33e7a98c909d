"""training/foundation.py: discovery, the prompt split, the hash, FLAMe weights with the cap, and
the project/foundation weight combination."""

from __future__ import annotations

import pytest

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import write_jsonl
from training.foundation import build_foundation, combine_weights, load_foundation


def _folder(tmp_path, n=60):
    folder = tmp_path / "data"
    folder.mkdir(parents=True)
    write_jsonl(folder / "demo.jsonl", DEMO_TASKS, generate_demo_examples(n, seed=3))
    (folder / "README.md").write_text("not data")
    return folder


def test_build_is_content_hashed_split_and_weighted(tmp_path):
    folder = _folder(tmp_path)
    first = build_foundation(folder, tmp_path / "out", heldout_percent=20, max_per_task=40, cap=30)
    again = build_foundation(folder, tmp_path / "out", heldout_percent=20, max_per_task=40, cap=30)
    assert first.sha256 == again.sha256 and first.directory.name == first.sha256
    assert set(first.tasks) == {"demo_arithmetic", "demo_keyword"}
    assert all(n <= 40 for n in first.train_counts.values())
    assert sum(first.heldout_counts.values()) > 0
    # capped at 30 each: equal weights although the counts may differ
    assert first.weights == pytest.approx({name: 0.5 for name in first.tasks})
    assert first.sources["README.md"]["skipped"]
    loaded = load_foundation(first.directory)
    assert loaded.weights == first.weights and loaded.sha256 == first.sha256
    # no held-out prompt is trained on
    from judging.task_format import read_jsonl

    _, train = read_jsonl(loaded.train_path)
    _, heldout = read_jsonl(loaded.heldout_path)
    assert not {str(e.context) for e in train} & {str(e.context) for e in heldout}
    other = build_foundation(_folder(tmp_path / "x", n=70), tmp_path / "out", heldout_percent=20)
    assert other.sha256 != first.sha256


def test_build_refuses_missing_or_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no such directory"):
        build_foundation(tmp_path / "absent", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no task with labelled examples"):
        build_foundation(tmp_path / "empty", tmp_path / "out")


def test_combine_weights_gives_the_project_its_share():
    combined = combine_weights({"f1": 0.75, "f2": 0.25}, {"p1": 10, "p2": 30}, 0.4)
    assert combined == pytest.approx({"f1": 0.45, "f2": 0.15, "p1": 0.1, "p2": 0.3})
    assert combine_weights({"f1": 1.0}, {}, 0.5) == {"f1": 1.0}
    assert combine_weights({}, {"p1": 3}, 0.5) == {"p1": 1.0}
    explicit = combine_weights({"f1": 1.0}, {"p1": 3, "p2": 1}, 0.5, project_weights={"p1": 1})
    assert explicit == pytest.approx({"f1": 0.5, "p1": 0.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        combine_weights({"f1": 1.0}, {"p1": 3}, 1.5)
