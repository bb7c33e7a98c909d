import json
from collections import Counter
from pathlib import Path

import pytest

from judging.converters import ConversionError, convert
from judging.converters import fastchat_llm_judge as converter

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fastchat-llm-judge"


def _jsonl(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _fixture(tmp_path):
    _jsonl(
        tmp_path / "mt_bench" / "question.jsonl",
        [
            {"question_id": 81, "category": "writing", "turns": ["Write a post.", "Shorten it."]},
            {
                "question_id": 101,
                "category": "reasoning",
                "turns": ["You overtake the second person. Position?", "And the last person?"],
                "reference": ["You are in second place.", "Uncertain."],
            },
        ],
    )
    _jsonl(
        tmp_path / "mt_bench" / "reference_answer" / "gpt-4.jsonl",
        [
            {
                "question_id": 101,
                "answer_id": "x",
                "model_id": "gpt-4",
                "choices": [{"index": 0, "turns": ["Second place.", "Second to last."]}],
                "tstamp": 1.0,
            }
        ],
    )
    _jsonl(
        tmp_path / "vicuna_bench" / "question.jsonl",
        [
            {"question_id": 1, "category": "generic", "turns": ["How to manage time?"]},
            {"question_id": 61, "category": "coding", "turns": ["Count words in C++."]},
        ],
    )
    _jsonl(
        tmp_path / "vicuna_bench" / "reference_answer" / "gpt-4.jsonl",
        [
            {
                "question_id": 61,
                "answer_id": "y",
                "model_id": "gpt-4",
                "choices": [{"index": 0, "turns": ["int main() {}"]}],
                "tstamp": 2.0,
            }
        ],
    )
    _jsonl(
        tmp_path / "judge_prompts.jsonl",
        [{"name": "pair-v2", "type": "pairwise", "prompt_template": "{question}"}],
    )


def test_fixture_examples(tmp_path):
    _fixture(tmp_path)
    assert converter.source_files(tmp_path) == [
        tmp_path / "mt_bench" / "question.jsonl",
        tmp_path / "vicuna_bench" / "question.jsonl",
    ]
    tasks, stream = convert("fastchat-llm-judge", [tmp_path])
    examples = list(stream)
    assert set(tasks) == {
        "fastchat-llm-judge/mt-bench-response",
        "fastchat-llm-judge/vicuna-bench-response",
    }
    assert [(e.id, e.task.split("/")[1]) for e in examples] == [
        ("fastchat-llm-judge/mt_bench/81", "mt-bench-response"),
        ("fastchat-llm-judge/mt_bench/101", "mt-bench-response"),
        ("fastchat-llm-judge/vicuna_bench/1", "vicuna-bench-response"),
        ("fastchat-llm-judge/vicuna_bench/61", "vicuna-bench-response"),
    ]
    assert all(e.label is None for e in examples)
    first, second, third, fourth = examples
    assert first.context == {
        "conversation": [
            {"role": "user", "content": "Write a post."},
            {"role": "user", "content": "Shorten it."},
        ]
    }
    assert first.reference is None and "inline_reference" not in first.provenance
    assert second.reference == "turn 1: Second place.\n\nturn 2: Second to last."
    assert second.provenance["inline_reference"] == ["You are in second place.", "Uncertain."]
    assert second.provenance["category"] == "reasoning"
    assert second.provenance["license"] == "Apache-2.0"
    assert third.reference is None
    assert fourth.context["conversation"] == [{"role": "user", "content": "Count words in C++."}]
    assert fourth.reference == "int main() {}"


def test_malformed_question_raises(tmp_path):
    _fixture(tmp_path)
    path = _jsonl(
        tmp_path / "vicuna_bench" / "question.jsonl",
        [
            {"question_id": 1, "category": "generic", "turns": ["How?"]},
            {"question_id": 61, "category": "coding", "turns": "Count words."},
        ],
    )
    with pytest.raises(ConversionError) as caught:
        list(convert("fastchat-llm-judge", [tmp_path])[1])
    message = str(caught.value)
    assert str(path) in message and "line 2" in message and "'turns'" in message


def test_reference_problems_raise(tmp_path):
    _fixture(tmp_path)
    reference = tmp_path / "vicuna_bench" / "reference_answer" / "gpt-4.jsonl"
    _jsonl(reference, [{"question_id": 99, "choices": [{"index": 0, "turns": ["x"]}]}])
    with pytest.raises(ConversionError, match="line 1: field 'question_id': no question 99"):
        list(converter.convert_file(tmp_path / "vicuna_bench" / "question.jsonl"))
    _jsonl(reference, [{"question_id": 61, "choices": [{"index": 0, "turns": ["a", "b"]}]}])
    with pytest.raises(ConversionError, match="field 'choices.turns'"):
        list(converter.convert_file(tmp_path / "vicuna_bench" / "question.jsonl"))


def test_judge_prompts_are_refused(tmp_path):
    _fixture(tmp_path)
    with pytest.raises(ConversionError, match="judge prompt templates"):
        list(convert("fastchat-llm-judge", [tmp_path / "judge_prompts.jsonl"])[1])


def test_real_data_counts():
    if not DATA.is_dir():
        pytest.skip("shared/data/fastchat-llm-judge is absent")
    assert all(p.name == "question.jsonl" for p in converter.source_files(DATA))
    _, stream = convert("fastchat-llm-judge", [DATA])
    examples = list(stream)
    assert len({e.id for e in examples}) == len(examples)
    assert Counter(e.task for e in examples) == {
        "fastchat-llm-judge/mt-bench-response": 80,
        "fastchat-llm-judge/vicuna-bench-response": 80,
    }
    assert all(e.label is None for e in examples)
    with_reference = Counter(e.task for e in examples if e.reference is not None)
    assert with_reference == {
        "fastchat-llm-judge/mt-bench-response": 30,
        "fastchat-llm-judge/vicuna-bench-response": 10,
    }
    assert sum("inline_reference" in e.provenance for e in examples) == 39
    mt_bench = [e for e in examples if e.task.endswith("mt-bench-response")]
    assert all(len(e.context["conversation"]) == 2 for e in mt_bench)
    assert len({e.provenance["category"] for e in mt_bench}) == 8
