import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import squality_human_eval as sq
from judging.task_format import Example

FORMAT = "squality-human-eval"
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / FORMAT
LICENSE = "CC BY 4.0 (summaries, annotations); stories: Project Gutenberg licence"


def _review(system, worker, ratings, ranks, annotations=()):
    return {
        "annotations": list(annotations),
        "system": system,
        "worker_id": worker,
        **{f"{a}-rating": r for a, r in zip(sq.ATTRIBUTES, ratings, strict=True)},
        **{f"{a}-rank": r for a, r in zip(sq.ATTRIBUTES, ranks, strict=True)},
    }


def _write(folder: Path, responses: list[dict]) -> Path:
    story = {
        "metadata": {"passage_id": "111", "uid": "u", "license": "PG"},
        "document": "Once upon a time.",
        # Out of order on purpose: question key "0" is question_number 1.
        "questions": [
            {"question_text": "Who?", "question_number": 2, "responses": []},
            {"question_text": "What happens?", "question_number": 1, "responses": []},
        ],
    }
    (folder / "v1-3-txt-test.jsonl").write_text(json.dumps(story) + "\n")
    path = folder / "all-responses.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in responses))
    return path


def _record():
    spans = [
        {"selection": "It ends.", "annotation": ["Wrong ending", " and vague "]},
        {"selection": "Once", "annotation": []},  # highlight without comment: no example
        {"selection": "", "annotation": ["\n"]},  # blank comment: no example
    ]
    overall = {"correctness-rating": 0, "overall-ranking": 1}
    return {
        "passage-id": "111",
        "questions": {
            "0": {
                "bart": {
                    "response": "bart summary",
                    "reviews": [_review("bart", "7", [10, 20.5, 30], [3, 3, 2], spans)],
                    "overall": overall,
                },
                "bart-dpr": {
                    "response": "dpr summary",
                    "reviews": [_review("bart-dpr", "7", [40, 50, 0], [2, 2, 3])],
                    "overall": overall,
                },
                "human": {
                    "response": "human summary",
                    "reviews": [_review("human", "7", [100, 90, 95], [1, 1, 1])],
                    "overall": overall,
                },
            }
        },
    }


def test_converts_ratings_rankings_and_comments(tmp_path):
    path = _write(tmp_path, [_record()])
    examples = list(sq.convert_file(path))
    by_id = {e.id: e for e in examples}
    assert len(by_id) == len(examples) == 9 + 9 + 1
    assert Counter(e.task for e in examples) == {
        **{f"{FORMAT}/{a}-rating": 3 for a in sq.ATTRIBUTES},
        **{f"{FORMAT}/{a}-ranking": 3 for a in sq.ATTRIBUTES},
        f"{FORMAT}/span-comment": 1,
    }
    provenance = {
        "source": FORMAT,
        "passage_id": "111",
        "question": 0,
        "license": LICENSE,
        "split": "test",
        "system": "bart",
        "worker_id": "7",
    }
    context = {"story": "Once upon a time.", "question": "What happens?", "summary": "bart summary"}
    assert by_id[f"{FORMAT}/111/q0/bart/w7/selection-rating"] == Example(
        task=f"{FORMAT}/selection-rating",
        id=f"{FORMAT}/111/q0/bart/w7/selection-rating",
        context=context,
        label="20.5",
        provenance=provenance,
    )
    assert by_id[f"{FORMAT}/111/q0/bart-dpr/w7/overall-rating"].label == "0"
    assert by_id[f"{FORMAT}/111/q0/bart/w7/span0"] == Example(
        task=f"{FORMAT}/span-comment",
        id=f"{FORMAT}/111/q0/bart/w7/span0",
        context={**context, "highlighted span": "It ends."},
        label="Wrong ending\nand vague",
        provenance=provenance,
    )
    ranking = [e for e in examples if e.task == f"{FORMAT}/overall-ranking"]
    assert {e.id for e in ranking} == {
        f"{FORMAT}/111/q0/bart-vs-bart-dpr/w7/overall-ranking",
        f"{FORMAT}/111/q0/bart-vs-human/w7/overall-ranking",
        f"{FORMAT}/111/q0/bart-dpr-vs-human/w7/overall-ranking",
    }
    summaries = {"bart": "bart summary", "bart-dpr": "dpr summary", "human": "human summary"}
    overall_ranks = {"bart": 2, "bart-dpr": 3, "human": 1}
    for example in ranking:
        a, b = example.provenance["system_a"], example.provenance["system_b"]
        assert example.context["response A"] == summaries[a]
        assert example.context["response B"] == summaries[b]
        assert example.label == ("A" if overall_ranks[a] < overall_ranks[b] else "B")
        assert (example.provenance["rank_a"], example.provenance["rank_b"]) == (
            overall_ranks[a],
            overall_ranks[b],
        )
    # Deterministic: converting again gives the same A/B placement.
    assert list(sq.convert_file(path)) == examples


@pytest.mark.parametrize(
    ("breaks", "field"),
    [
        (
            lambda r: r["questions"]["0"]["human"]["reviews"][0].pop("overall-rating"),
            "questions.0.human.reviews.0.overall-rating",
        ),
        (
            lambda r: r["questions"]["0"]["bart"]["reviews"][0].update({"selection-rating": "9"}),
            "questions.0.bart.reviews.0.selection-rating",
        ),
        (
            lambda r: r["questions"]["0"]["bart"]["reviews"][0].update({"correctness-rating": 101}),
            "questions.0.bart.reviews.0.correctness-rating",
        ),
        (lambda r: r["questions"]["0"].pop("bart-dpr"), "questions.0.bart-dpr"),
        (lambda r: r.update({"passage-id": "999"}), "passage-id"),
    ],
)
def test_malformed_record_names_file_line_and_field(tmp_path, breaks, field):
    bad = _record()
    breaks(bad)
    path = _write(tmp_path, [_record(), bad])
    with pytest.raises(ConversionError) as caught:
        list(sq.convert_file(path))
    assert caught.value.path == str(path)
    assert caught.value.record == 2
    assert caught.value.field == field
    assert f"{path}: line 2: field {field!r}" in str(caught.value)


def test_missing_story_file_is_an_error(tmp_path):
    path = _write(tmp_path, [_record()])
    (tmp_path / "v1-3-txt-test.jsonl").unlink()
    with pytest.raises(ConversionError, match="story file missing"):
        list(sq.convert_file(path))


def test_real_folder_counts():
    if not DATA.exists():
        pytest.skip(f"{DATA} not available")
    tasks, examples = convert(FORMAT, [DATA])
    counts = Counter()
    ids = set()
    for example in examples:
        counts[example.task] += 1
        ids.add(example.id)
    # 20 stories x 5 questions x 3 systems = 300 responses, 3 reviews each = 900 reviews.
    expected = {f"{FORMAT}/{a}-rating": 900 for a in sq.ATTRIBUTES}
    # 100 questions x 3 reviewers x 3 system pairs.
    expected |= {f"{FORMAT}/{a}-ranking": 900 for a in sq.ATTRIBUTES}
    expected[f"{FORMAT}/span-comment"] = 1705  # 3,142 highlights, 1,437 without a comment
    assert counts == expected
    assert len(ids) == sum(counts.values())
    assert set(tasks) == set(expected)
