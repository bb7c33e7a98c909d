import json

import pytest

from judging.demo_tasks import ARITHMETIC, DEMO_TASKS, KEYWORD, generate_demo_examples
from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    Example,
    FormatError,
    Task,
    TaskType,
    parse_evaluation,
    read_jsonl,
    render_example,
    render_prompt,
    render_target,
    swap_pairwise,
    write_jsonl,
)


def test_jsonl_round_trip(tmp_path):
    examples = generate_demo_examples(5, seed=1)
    path = tmp_path / "data.jsonl"
    assert write_jsonl(path, DEMO_TASKS, examples) == 10
    tasks, read = read_jsonl(path)
    assert tasks == {t.name: t for t in DEMO_TASKS}
    assert read == examples
    # Only the first line of each task carries the whole definition.
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sum(isinstance(line["task"], dict) for line in lines) == 2


def test_read_jsonl_names_file_line_and_field(tmp_path):
    path = tmp_path / "bad.jsonl"
    example = generate_demo_examples(1)[0]
    write_jsonl(path, DEMO_TASKS, [example])
    good = path.read_text()
    bad = json.loads(good)
    bad["task"] = "demo_arithmetic"
    del bad["context"]
    path.write_text(good + json.dumps(bad) + "\n")
    with pytest.raises(FormatError, match=r"bad.jsonl:2: .*'context'"):
        read_jsonl(path)
    path.write_text(good + "{not json\n")
    with pytest.raises(FormatError, match=r"bad.jsonl:2"):
        read_jsonl(path)
    bad = json.loads(good)
    bad["label"] = "C"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(FormatError, match="label 'C'"):
        read_jsonl(path)


def test_task_validation():
    with pytest.raises(FormatError, match="pairwise context_fields"):
        Task("t", TaskType.PAIRWISE, "t", "d", ("question",), ("choice",), ("A", "B"))
    with pytest.raises(FormatError, match="labels"):
        Task("t", TaskType.CLASSIFICATION, "t", "d", ("x",), ("label",))
    with pytest.raises(FormatError, match="'type'"):
        Task.from_dict(
            {
                "name": "t",
                "type": "ranking",
                "title": "",
                "description": "",
                "context_fields": [],
                "output_fields": ["x"],
            }
        )


def test_render_prompt_ends_at_label_field():
    example = generate_demo_examples(1)[0]
    prompt = render_prompt(ARITHMETIC, example)
    assert prompt.startswith("INSTRUCTIONS:\ntitle: ")
    assert "\nCONTEXT:\nquestion: " in prompt
    assert prompt.endswith("\n\nEVALUATION:\nchoice:")
    assert render_example(ARITHMETIC, example) == prompt + render_target(example.label)


def test_strict_parse():
    assert parse_evaluation(KEYWORD, "EVALUATION:\nchoice: B").label == "B"
    assert parse_evaluation(KEYWORD, "choice: A\n").valid
    for text in ("choice: C", "verdict: A", "A", "choice A", ""):
        parsed = parse_evaluation(KEYWORD, text)
        assert not parsed.valid and parsed.label is None and parsed.error


def test_swap_pairwise_swaps_responses_and_label():
    example = Example(
        "demo_keyword", {"instruction": "i", RESPONSE_A: "x", RESPONSE_B: "y"}, label="A", id="e1"
    )
    swapped = swap_pairwise(example)
    assert (swapped.context[RESPONSE_A], swapped.context[RESPONSE_B]) == ("y", "x")
    assert swapped.label == "B" and swapped.id == "e1"
    assert swap_pairwise(swapped) == example
    tie = Example("demo_keyword", example.context, label="tie")
    assert swap_pairwise(tie).label == "tie"


def test_demo_examples_are_correct_by_construction():
    examples = generate_demo_examples(200, seed=7)
    assert examples == generate_demo_examples(200, seed=7)
    assert len({e.id for e in examples}) == 400
    labels = [e.label for e in examples]
    assert 0.35 < labels.count("A") / len(labels) < 0.65
    for e in examples:
        chosen = e.context[RESPONSE_A if e.label == "A" else RESPONSE_B]
        other = e.context[RESPONSE_B if e.label == "A" else RESPONSE_A]
        if e.task == ARITHMETIC.name:
            a, b = e.provenance["a"], e.provenance["b"]
            assert chosen.endswith(f"= {a + b}") and not other.endswith(f"= {a + b}")
        else:
            word = e.provenance["required"]
            assert word in chosen.split(" ")[-2:][0] and word not in other


def test_parse_evaluations_counts_invalid_outputs_and_never_guesses():
    from judging.demo_tasks import ARITHMETIC
    from judging.task_format import parse_evaluations

    report = parse_evaluations(
        ARITHMETIC,
        [
            "EVALUATION:\nchoice: A",
            "choice: B",
            "choice: A is better",  # not a label
            "I think A",  # no field
            "explanation: none",  # missing the label field
        ],
    )
    assert [p.label for p in report.parsed] == ["A", "B", None, None, None]
    assert report.invalid == 3
    assert sum(report.reasons.values()) == 3
