"""Judgments with reasons: a tiny model trained on the whole EVALUATION block (verdict, then a
templated explanation "because <word>") gives held-out verdicts read at the verdict token and
generates an explanation that parses and names the deciding word."""

import json
import random

import pytest

from judging import __main__ as judging_cli
from judging.inference import Judge
from judging.task_format import (
    Example,
    FormatError,
    Task,
    TaskType,
    parse_evaluation,
    render_example,
    write_jsonl,
)
from training.config import TrainConfig
from training.loop import train

TASK = Task(
    name="kind",
    type=TaskType.CLASSIFICATION,
    title="Is the sentence about an animal or a thing?",
    description="Answer 'animal' or 'thing', then say which word decided it.",
    context_fields=("text",),
    output_fields=("answer", "explanation"),
    labels=("animal", "thing"),
)
ANIMALS = "tiger horse rabbit eagle spider camel otter whale".split()
THINGS = "lamp bridge violin candle rocket pencil engine window".split()
SUBJECTS = "Look at the|I saw the|There is a|We found the|She drew the|He liked the".split("|")
ENDINGS = "today|again|outside|twice".split("|")


def _examples() -> tuple[list[Example], list[Example]]:
    """Every (subject, word, ending): held out are two whole subject-ending combinations."""
    rng = random.Random(0)
    train_set, heldout = [], []
    for s, subject in enumerate(SUBJECTS):
        for e, ending in enumerate(ENDINGS):
            for word in ANIMALS + THINGS:
                example = Example(
                    TASK.name,
                    {"text": f"{subject} {word} {ending}"},
                    label="animal" if word in ANIMALS else "thing",
                    id=f"{s}-{e}-{word}",
                    outputs={"explanation": f"because {word}"},
                )
                (heldout if (s, e) in ((0, 1), (3, 2)) else train_set).append(example)
    rng.shuffle(train_set)
    return train_set, heldout


def test_outputs_render_after_the_verdict_and_round_trip():
    example = Example(TASK.name, {"text": "x"}, label="animal", outputs={"explanation": "a\nb"})
    text = render_example(TASK, example)
    assert text.endswith("answer: animal\nexplanation: a b")
    assert parse_evaluation(TASK, text).fields["explanation"] == "a b"
    assert Example.from_dict(example.to_dict()) == example
    assert "outputs" not in Example(TASK.name, {"text": "x"}).to_dict()
    with pytest.raises(FormatError, match="'outputs'"):
        Example.from_dict({"task": "kind", "context": {}, "outputs": {"explanation": 3}})


def test_trained_on_the_evaluation_block_it_judges_with_an_explanation(tmp_path):
    train_set, heldout = _examples()
    config = TrainConfig(
        steps=300,
        batch_size=16,
        learning_rate=3e-3,
        warmup_steps=20,
        vocab_size=512,  # every word one token: the explanation copies one token
        max_len=96,
        log_every=100,
        evaluation_block=True,
        verdict_weight=2.0,
        model_overrides={"n_layers": 2},
    )
    train({TASK.name: TASK}, train_set, config, tmp_path / "ckpt")
    judge = Judge.load(tmp_path / "ckpt")
    assert judge.metadata["explains"] == [TASK.name]
    verdicts = judge.judge({TASK.name: TASK}, heldout)
    accuracy = sum(v.label == e.label for v, e in zip(verdicts, heldout, strict=True)) / len(
        heldout
    )
    matched = sum(
        v.explanation == e.outputs["explanation"] for v, e in zip(verdicts, heldout, strict=True)
    ) / len(heldout)
    shaped = sum(
        (v.explanation or "").startswith("because ") and len(v.explanation.split()) == 2
        for v in verdicts
    ) / len(heldout)
    print(f"held-out verdict accuracy {accuracy:.2f}, explanation exact {matched:.2f}")
    assert accuracy >= 0.9
    assert shaped >= 0.9  # the template "because <word>" parses from the generated block
    assert matched >= 0.8  # ... and names the sentence's own word
    # The verdict's probabilities are read at the verdict token, explained or not.
    plain = judge.judge({TASK.name: TASK}, heldout[:4], explain=False)
    for a, b in zip(plain, verdicts[:4], strict=True):
        assert b.explanation is not None and a.explanation is None
        assert a.probabilities == pytest.approx(b.probabilities)
    # The command line writes the explanation with each verdict.
    write_jsonl(tmp_path / "in.jsonl", [TASK], heldout[:4])
    out = tmp_path / "out.jsonl"
    args = ["judge", "--model", str(tmp_path / "ckpt"), "--input", str(tmp_path / "in.jsonl")]
    assert judging_cli.main([*args, "--output", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["explanation"] for line in lines] == [v.explanation for v in verdicts[:4]]


CRITIQUE = Task(
    name="critique",
    type=TaskType.OPEN_ENDED,
    title="Critique the sentence",
    description="Say which word the sentence is about.",
    context_fields=("text",),
    output_fields=("critique",),
)
LENGTH = Task(
    name="length",
    type=TaskType.POINTWISE,
    title="Rate the sentence",
    description="Give the length of the sentence's noun.",
    context_fields=("text",),
    output_fields=("score",),
    scale=(0.0, 10.0),
)


def test_open_ended_and_real_valued_tasks_train_through_their_rendered_text(tmp_path):
    """With evaluation_block, a critique and a real-valued score are trained as the text they
    render to; generation then gives parseable outputs with the held-out items' own word."""
    train_set, heldout = [], []
    for s, subject in enumerate(SUBJECTS):
        for e, ending in enumerate(ENDINGS):
            for word in ANIMALS + THINGS:
                text = {"text": f"{subject} {word} {ending}"}
                pair = [
                    Example(CRITIQUE.name, text, label=f"about the {word}", id=f"c{s}{e}{word}"),
                    Example(LENGTH.name, text, label=str(len(word)), id=f"l{s}{e}{word}"),
                ]
                (heldout if (s, e) in ((0, 1), (3, 2)) else train_set).extend(pair)
    random.Random(1).shuffle(train_set)
    tasks = {CRITIQUE.name: CRITIQUE, LENGTH.name: LENGTH}
    config = TrainConfig(
        steps=300,
        batch_size=16,
        learning_rate=3e-3,
        warmup_steps=20,
        vocab_size=512,
        max_len=96,
        log_every=100,
        evaluation_block=True,
        model_overrides={"n_layers": 2},
    )
    train(tasks, train_set, config, tmp_path / "ckpt")
    judge = Judge.load(tmp_path / "ckpt")
    assert judge.metadata["examples_per_task"] == {"critique": 352, "length": 352}
    generations = judge.generate(tasks, heldout, max_new_tokens=8)
    right = {name: [] for name in tasks}
    for generation, example in zip(generations, heldout, strict=True):
        assert generation.valid and generation.finished, generation
        right[example.task].append(generation.label == example.label)
    accuracy = {name: sum(v) / len(v) for name, v in right.items()}
    print(f"held-out exact outputs {accuracy}")
    assert accuracy["critique"] >= 0.8 and accuracy["length"] >= 0.8
