"""Self-Taught Evaluator: synthetic pairs, the both-order filter, and the learning test."""

import dataclasses
import json
import sys
import time

import pytest

from judging.demo_tasks import KEYWORD, generate_demo_examples
from judging.task_format import RESPONSE_A, RESPONSE_B, write_jsonl
from judging.verdict import Verdict
from training import __main__ as training_cli
from training.config import TrainConfig
from training.loop import train
from training.variants.self_taught import filter_and_balance, self_taught
from training.variants.self_taught_pairs import (
    instruction_pool,
    perturbed_pairs,
    sentences,
    similar_instructions,
    synthesize_pairs,
    tie_pairs,
)
from training.variants.tailpatch import split_heldout

TASKS = {KEYWORD.name: KEYWORD}


def _keyword_examples(n: int) -> list:
    return [e for e in generate_demo_examples(n, seed=0) if e.task == KEYWORD.name]


def _keyword_examples_ending(n: int, ending: str, **changes) -> list:
    """Keyword examples whose two responses both end with `ending` (its {} is the
    instruction), with `changes` to their other fields."""
    return [
        dataclasses.replace(
            e,
            context={
                **e.context,
                **{
                    field: e.context[field] + ending.format(e.context["instruction"])
                    for field in (RESPONSE_A, RESPONSE_B)
                },
            },
            **changes,
        )
        for e in _keyword_examples(n)
    ]


def test_synthetic_pairs_borrow_the_worse_response_from_another_instruction():
    pool = instruction_pool(TASKS, _keyword_examples(300))
    assert len(pool) > 200 and all(item.task == KEYWORD.name for item in pool)
    pairs = synthesize_pairs(pool, seed=1)
    assert len(pairs) == len(pool)
    by_id = {item.id: item for item in pool}
    labels = {"A": 0, "B": 0}
    borrowed_words = set()
    for pair in pairs:
        item = by_id[pair.provenance["instruction"]]
        other = by_id[pair.provenance["worse_from"]]
        good = pair.context[RESPONSE_A if pair.label == "A" else RESPONSE_B]
        worse = pair.context[RESPONSE_B if pair.label == "A" else RESPONSE_A]
        assert good == item.response and worse == other.response
        assert pair.context["instruction"] == item.context["instruction"]
        assert other.text != item.text  # a different instruction...
        required = item.context["instruction"].split()[-1].rstrip(".")
        assert required in good and required not in worse  # ...so the label holds
        labels[pair.label] += 1
        borrowed_words.add(other.context["instruction"])
    assert min(labels.values()) > 0.35 * len(pairs)
    # Templated instructions are all equally similar: ties are broken at random, so the worse
    # responses come from many instructions, not the same few (a shortcut for the judge).
    assert len(borrowed_words) >= 20
    neighbours = similar_instructions(pool, top_k=3)
    assert all(len(n) >= 3 for n in neighbours)


def test_synthetic_pairs_keep_the_instructions_own_reference():
    """A reference answer belongs to its instruction: the pair is judged against the good
    response's reference, so "agrees with the reference" is a signal the pair teaches."""
    examples = [
        dataclasses.replace(e, reference=f"gold for {e.context['instruction']}")
        for e in _keyword_examples(200)
    ]
    pool = instruction_pool(TASKS, examples)
    assert all(item.reference and item.reference.startswith("gold for") for item in pool)
    pairs = synthesize_pairs(pool, seed=2)
    by_id = {item.id: item for item in pool}
    assert pairs
    for pair in pairs:
        item = by_id[pair.provenance["instruction"]]
        assert pair.reference == item.reference == f"gold for {item.context['instruction']}"
    no_reference = synthesize_pairs(instruction_pool(TASKS, _keyword_examples(50)), seed=2)
    assert all(pair.reference is None for pair in no_reference)


def test_perturbed_pairs_differ_in_one_off_topic_sentence():
    examples = _keyword_examples_ending(200, " It is about {}.")
    pool = instruction_pool(TASKS, examples)
    pairs = perturbed_pairs(pool, seed=3, max_pairs=60)
    assert len(pairs) == 60
    by_id = {item.id: item for item in pool}
    for pair in pairs:
        item = by_id[pair.provenance["instruction"]]
        good = pair.context[RESPONSE_A if pair.label == "A" else RESPONSE_B]
        worse = pair.context[RESPONSE_B if pair.label == "A" else RESPONSE_A]
        assert good == item.response and worse != good
        own, changed = sentences(good), sentences(worse)
        assert len(own) == len(changed)
        differing = [i for i, (a, b) in enumerate(zip(own, changed, strict=True)) if a != b]
        assert differing == [pair.provenance["replaced_sentence"]]
        assert changed[differing[0]] in sentences(by_id[pair.provenance["sentence_from"]].response)
    assert {p.label for p in pairs} == {"A", "B"}
    # One-sentence responses have nothing to keep: no pair.
    assert perturbed_pairs(instruction_pool(TASKS, _keyword_examples(50)), seed=3) == []


def test_tie_pairs_say_the_same_thing_twice():
    examples = _keyword_examples_ending(200, ", and it is about {}", reference="the gold answer")
    pool = instruction_pool(TASKS, examples)
    pairs = tie_pairs(pool, seed=4, max_pairs=80)
    assert len(pairs) == 80
    by_id = {item.id: item for item in pool}
    edits = set()
    for pair in pairs:
        first, second = pair.context[RESPONSE_A], pair.context[RESPONSE_B]
        item = by_id[pair.provenance["instruction"]]
        assert pair.label == "tie" and pair.reference == "the gold answer"
        assert item.response in (first, second)
        # The same words in the same order; at most one comma differs.
        assert first.replace(",", "").split() == second.replace(",", "").split()
        assert abs(first.count(",") - second.count(",")) == (pair.provenance["edit"] == "comma")
        edits.add(pair.provenance["edit"])
    assert edits == {"none", "comma"}
    assert (
        len({p.context[RESPONSE_A] == by_id[p.provenance["instruction"]].response for p in pairs})
        == 2
    )


def _verdict(ab: str, ba: str) -> Verdict:
    probs = {
        lbl: {"A": 0.9 if lbl == "A" else 0.1, "B": 0.1 if lbl == "A" else 0.9, "tie": 0.0}
        for lbl in "AB"
    }
    return Verdict(None, KEYWORD.name, ab, {}, 0.9, {"ab": probs[ab], "ba": probs[ba]}, ab == ba)


def test_filter_keeps_both_order_agreement_and_balances():
    pool = instruction_pool(TASKS, _keyword_examples(60))
    pairs = synthesize_pairs(pool, seed=2)[:8]
    flip = {"A": "B", "B": "A"}
    verdicts = []
    for i, pair in enumerate(pairs):
        if i < 5:
            verdicts.append(_verdict(pair.label, pair.label))  # right in both orders: kept
        elif i == 5:
            verdicts.append(_verdict(pair.label, flip[pair.label]))  # one order wrong
        else:
            verdicts.append(_verdict(flip[pair.label], flip[pair.label]))  # wrong
    balanced, counts = filter_and_balance(pairs, verdicts)
    kept_labels = [p.label for p in pairs[:5]]
    assert counts["kept"] == 5 and counts["pairs"] == 8
    assert counts["kept_A"] == kept_labels.count("A")
    n = min(kept_labels.count("A"), kept_labels.count("B"))
    assert counts["balanced"] == len(balanced) == 2 * n
    assert sum(p.label == "A" for p in balanced) == sum(p.label == "B" for p in balanced)
    assert all(p in pairs[:5] for p in balanced)


@pytest.mark.slow
def test_self_taught_rounds_improve_a_weak_seed(tmp_path):
    """A seed judge trained on 100 labelled keyword items is weak on held-out items; the
    Self-Taught rounds, from an instruction pool of ~1,200 items and no further labels, raise
    its held-out accuracy round by round."""
    started = time.monotonic()
    examples = _keyword_examples(1500)
    pool_examples, heldout = split_heldout(examples)
    seed_config = TrainConfig.preset("demo", steps=300, log_every=100)
    seed = train(TASKS, pool_examples[:100], seed_config, tmp_path / "seed").checkpoint_dir
    config = TrainConfig.preset("demo", steps=200, warmup_steps=20, log_every=100)
    result = self_taught(
        seed,
        TASKS,
        pool_examples,
        config,
        tmp_path / "st",
        rounds=2,
        heldout=heldout,
        init="previous",
    )
    accuracies = [entry["accuracy"] for entry in result["rounds"]]
    print(
        f"\nself-taught: accuracy by round {[round(a, 3) for a in accuracies]}, kept "
        f"{[e.get('kept') for e in result['rounds']]}, balanced "
        f"{[e.get('balanced') for e in result['rounds']]}, n={result['heldout']}, "
        f"{time.monotonic() - started:.0f}s",
        file=sys.stderr,
    )
    assert result["heldout"] >= 300 and result["pool"] >= 1000
    assert accuracies[0] <= 0.8  # the seed is weak
    assert all(b >= a for a, b in zip(accuracies, accuracies[1:], strict=False))
    assert accuracies[-1] >= accuracies[0] + 0.1
    assert accuracies[-1] >= 0.8
    for entry in result["rounds"][1:]:
        assert entry["trained"] and entry["balanced"] > 0
        assert 0 < entry["kept"] <= entry["pairs"]
    assert result["rounds"][2]["kept"] > result["rounds"][1]["kept"]  # the judge agrees more
    saved = json.loads((tmp_path / "st" / "self_taught.json").read_text())
    assert [e["accuracy"] for e in saved["rounds"]] == accuracies


def test_self_taught_cli(tmp_path, capsys):
    examples = _keyword_examples(80)
    data = tmp_path / "keyword.jsonl"
    write_jsonl(data, TASKS.values(), examples)
    seed = train(TASKS, examples, TrainConfig.preset("smoke", steps=2), tmp_path / "seed")
    out = tmp_path / "st"
    code = training_cli.main(
        [
            "self-taught",
            "--seed",
            str(seed.checkpoint_dir),
            "--data",
            str(data),
            "--rounds",
            "2",
            "--out",
            str(out),
            "--preset",
            "smoke",
            "--steps",
            "2",
            "--max-pairs",
            "20",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert [r["round"] for r in summary["rounds"]] == [0, 1, 2]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in summary["rounds"])
    assert all(r["pairs"] == 20 for r in summary["rounds"][1:])
    assert (out / "self_taught.json").exists()
    bad = training_cli.main(
        ["self-taught", "--seed", str(tmp_path / "nope"), "--data", str(data), "--out", str(out)]
    )
    assert bad == 2 and "not a judge checkpoint" in capsys.readouterr().err
